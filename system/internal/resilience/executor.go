package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/fallback"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// Classifier tells the pipeline how a result went: failure counts against the breaker (and
// triggers the fallback); retryable failures are retried.
type Classifier[R any] struct {
	Failure   func(R, error) bool
	Retryable func(R, error) bool
	// Shed (may be nil) recognises a callee that refused the call on purpose to protect
	// itself. It is a failure for the caller, but neither counted by the breaker (the callee
	// is healthy and already shedding the excess; opening would refuse everything) nor
	// retried at once (that is the load it shed).
	Shed func(R, error) bool
	// Discard releases a result the pipeline throws away (an HTTP body); may be nil.
	Discard func(R)
}

func (c Classifier[R]) shed(r R, err error) bool { return c.Shed != nil && c.Shed(r, err) }

// Executor runs calls on one edge through the profile's pipeline, outer to inner: fallback,
// retry (with its budget), hedge, circuit breaker, adaptive throttler, adaptive limiter,
// bulkhead, timeout per attempt. Build it once per edge.
type Executor[R any] struct {
	edge     string
	policy   EdgePolicy
	class    Classifier[R]
	t        *telemetry.Telemetry
	logger   *slog.Logger
	exec     failsafe.Executor[R] // nil when the policy protects nothing
	breaker  circuitbreaker.CircuitBreaker[R]
	hasRetry bool
	sampled  *sampledLog
	// The per-call span's name and start options, built once: Get is on every hot path.
	spanName string
	spanOpts []trace.SpanStartOption
	// inFlight counts the attempts holding a bulkhead permit (nil without a bulkhead), so each
	// call can record what the bulkhead let through for the lab's conformance check.
	inFlight *atomic.Int64
	// adapt is the adaptive limiter, throttler, budget and hedge (adaptive_exec.go); nil
	// when the edge has none of them.
	adapt *adaptive[R]
}

type fallbackKey struct{}

// NewExecutor builds the pipeline of edge from p.
func NewExecutor[R any](edge string, p EdgePolicy, class Classifier[R], t *telemetry.Telemetry, logger *slog.Logger) *Executor[R] {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Executor[R]{edge: edge, policy: p, class: class, t: t, logger: logger.With("edge", edge), sampled: newSampledLog(),
		spanName: "resilience " + edge,
		spanOpts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attribute.String(telemetry.AttrEdge, edge))}}
	m := t.Metrics
	var policies []failsafe.Policy[R]

	if p.Fallback != "" {
		kind := string(p.Fallback)
		fb := fallback.NewBuilderWithFunc(func(ex failsafe.Execution[R]) (R, error) {
			fn, _ := ex.Context().Value(fallbackKey{}).(func(context.Context, error) (R, error))
			if fn == nil {
				return ex.LastResult(), ex.LastError()
			}
			cause := ex.LastError()
			if cause == nil {
				cause = fmt.Errorf("resilience: %s: failed result", edge)
			}
			e.recordRejection(ex.Context(), cause)
			if e.adapt != nil {
				note, _ := ex.Context().Value(callNoteKey{}).(*callNote)
				e.adapt.noteRefusal(trace.SpanFromContext(ex.Context()), note, cause)
			}
			if e.class.Discard != nil {
				e.class.Discard(ex.LastResult())
			}
			m.Fallbacks.WithLabelValues(edge, kind).Inc()
			trace.SpanFromContext(ex.Context()).SetAttributes(attribute.String(telemetry.AttrFallback, kind))
			e.sampled.log(e.logger, "fallback", "resilience: fallback used", "kind", kind, "cause", cause.Error())
			return fn(ex.Context(), cause)
		}).HandleIf(func(r R, err error) bool { return class.Failure(r, err) }).Build()
		policies = append(policies, fb)
	}

	adapt, limiter, throttler, hedge := buildAdaptive(edge, p, class, m)
	if adapt.any() {
		e.adapt = adapt
	}

	if p.Retry != nil && p.Retry.MaxRetries > 0 {
		e.hasRetry = true
		rb := retrypolicy.NewBuilder[R]().
			WithMaxRetries(int(p.Retry.MaxRetries)).
			ReturnLastFailure().
			HandleIf(func(r R, err error) bool {
				// Never retry what the pipeline refused itself: an open breaker or a full
				// bulkhead says "back off", not "try again now".
				if errors.Is(err, ErrOpen) || errors.Is(err, ErrFull) || errors.Is(err, ErrLimited) || errors.Is(err, ErrThrottled) ||
					errors.Is(err, context.Canceled) || class.shed(r, err) {
					return false
				}
				return class.Retryable(r, err)
			}).
			OnRetryScheduled(func(ev failsafe.ExecutionScheduledEvent[R]) {
				if e.class.Discard != nil {
					e.class.Discard(ev.LastResult())
				}
				m.Retries.WithLabelValues(edge).Inc()
				span := trace.SpanFromContext(ev.Context())
				span.AddEvent(telemetry.EventRetry, trace.WithAttributes(
					attribute.String(telemetry.AttrEdge, edge), attribute.Int(telemetry.AttrAttempt, ev.Attempts()+1),
					attribute.String("delay", ev.Delay.String())))
				cause := "failed result"
				if ev.LastError() != nil {
					cause = ev.LastError().Error()
				}
				e.sampled.log(e.logger, "retry", "resilience: retry scheduled", "attempt", ev.Attempts()+1, "delay", ev.Delay, "cause", cause)
			})
		if b := p.Retry.Backoff.D(); b > 0 {
			if mx := p.Retry.MaxBackoff.D(); mx > b {
				rb = rb.WithBackoff(b, mx)
			} else {
				rb = rb.WithDelay(b)
			}
			if p.Retry.Jitter > 0 {
				rb = rb.WithJitterFactor(float64(p.Retry.Jitter))
			}
		}
		if adapt.budget != nil {
			rb = rb.WithBudget(adapt.budget)
		}
		policies = append(policies, rb.Build())
	}

	// A hedge sits inside the retry and outside the breaker, so each hedge is an attempt the
	// breaker, the throttler and the limiter see like any other.
	if hedge != nil {
		policies = append(policies, hedge)
	}

	if cb := p.CircuitBreaker; cb != nil {
		b := circuitbreaker.NewBuilder[R]().
			WithFailureThresholdRatio(cb.Threshold(), cb.Window).
			WithDelay(cb.Delay.D()).
			HandleIf(func(r R, err error) bool {
				// A full bulkhead is our own back-pressure and a cancelled caller is not the
				// callee's fault: neither says anything about the callee's health.
				if errors.Is(err, ErrFull) || errors.Is(err, ErrLimited) || errors.Is(err, ErrThrottled) || errors.Is(err, context.Canceled) || class.shed(r, err) {
					return false
				}
				return class.Failure(r, err)
			}).
			OnStateChanged(func(ev circuitbreaker.StateChangedEvent) { e.onTransition(ev) })
		if cb.SuccessThreshold > 0 {
			b = b.WithSuccessThreshold(cb.SuccessThreshold)
		}
		e.breaker = b.Build()
		m.BreakerState.WithLabelValues(edge).Set(telemetry.BreakerClosed)
		policies = append(policies, e.breaker)
	}

	if throttler != nil {
		policies = append(policies, throttler)
	}
	if limiter != nil {
		policies = append(policies, limiter)
	}

	if bh := p.Bulkhead; bh != nil && bh.MaxConcurrent > 0 {
		e.inFlight = new(atomic.Int64)
		policies = append(policies, bulkhead.NewBuilder[R](bh.MaxConcurrent).
			WithMaxWaitTime(bh.MaxWait.D()).
			OnFull(func(ev failsafe.ExecutionEvent[R]) {
				m.BulkheadRejections.WithLabelValues(edge).Inc()
				trace.SpanFromContext(ev.Context()).SetAttributes(attribute.Bool(telemetry.AttrBulkheadRejected, true))
				e.sampled.log(e.logger, "bulkhead", "resilience: bulkhead full, call rejected", "max_concurrent", bh.MaxConcurrent)
			}).Build())
	}

	if d := p.Timeout.D(); d > 0 {
		policies = append(policies, timeout.NewBuilder[R](d).
			OnTimeoutExceeded(func(ev failsafe.ExecutionDoneEvent[R]) {
				m.Timeouts.WithLabelValues(edge).Inc()
				trace.SpanFromContext(ev.Context()).SetAttributes(attribute.Bool(telemetry.AttrTimeout, true))
				e.sampled.log(e.logger, "timeout", "resilience: attempt timed out", "timeout", d)
			}).Build())
	}

	if len(policies) > 0 {
		e.exec = failsafe.With(policies...)
	}
	return e
}

// Get runs call through the pipeline. call gets a context carrying the attempt number and the
// per-attempt deadline. fallback, when non-nil and the profile names a fallback kind, answers
// instead of a failure; it gets the failure's cause.
func (e *Executor[R]) Get(ctx context.Context, call func(ctx context.Context) (R, error), fb func(ctx context.Context, err error) (R, error)) (R, error) {
	if e.exec == nil {
		return call(telemetry.WithAttempt(ctx, 1))
	}
	if fb != nil && e.policy.Fallback != "" {
		ctx = context.WithValue(ctx, fallbackKey{}, fb)
	}
	// One INTERNAL span per protected call names the edge, so what the pipeline did (retries,
	// breaker state, rejections, timeouts, fallbacks) is recorded about this edge and not on the
	// caller's server span, where a service with several edges would make it ambiguous. The
	// attempts' CLIENT spans are its children.
	ctx, span := e.t.Tracer.Start(ctx, e.spanName, e.spanOpts...)
	defer span.End()
	var retries atomic.Int32
	var admitted admission
	var limAdm limiterAdmission
	var note callNote
	if e.adapt != nil {
		ctx = context.WithValue(e.adapt.withPriority(ctx), callNoteKey{}, &note)
	}
	r, err := e.exec.WithContext(ctx).GetWithExecution(func(ex failsafe.Execution[R]) (R, error) {
		retries.Store(int32(ex.Retries()))
		if e.adapt != nil {
			if e.adapt.limiter != nil {
				// Inside the adaptive limiter: the attempt holds one of its permits.
				defer e.adapt.admit(&limAdm)()
			}
		}
		if e.inFlight != nil {
			// Inside the bulkhead: the attempt holds a permit from here until it returns.
			admitted.record(e.inFlight.Add(1), time.Since(ex.AttemptStartTime()))
			defer e.inFlight.Add(-1)
		}
		actx := ex.Context()
		if d := e.policy.Timeout.D(); d > 0 {
			// failsafe's timeout cancels the attempt's context but sets no deadline on it, and
			// a client that bounds its I/O by the deadline alone (go-redis) then reads on until
			// its own timeout: the attempt outlived the profile's timeout (seen: 143 ms against
			// 50 ms on redirect->redis, by the lab's conformance check).
			// A few ms after failsafe's own timer: with the same instant, the attempt's deadline
			// sometimes ended it first, failsafe saw a plain failure and no timeout was counted
			// or marked on the span (1 attempt in ~60-300 in TestTimeoutRetriedThen504).
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(actx, d+min(d/10, 5*time.Millisecond)+time.Millisecond)
			defer cancel()
		}
		r, err := call(telemetry.WithAttempt(actx, ex.Attempts()))
		if err == nil && ex.IsCanceled() && e.class.Discard != nil {
			// The timeout fired while the answer was arriving: failsafe drops this result,
			// so release it here (an HTTP body would otherwise pin a connection).
			e.class.Discard(r)
			var zero R
			if cerr := ex.Context().Err(); cerr != nil {
				return zero, cerr
			}
			return zero, ErrTimeout
		}
		return r, err
	})
	if err != nil && e.policy.Timeout.D() > 0 && (errors.Is(err, ErrTimeout) || (errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil)) {
		// failsafe marks a timeout from its timer's goroutine, which can run after this span
		// has ended (the mark is then lost, and conformance undercounts the calls the timeout
		// cut): the last attempt's timeout — failsafe's, or the attempt's own deadline just
		// after it, while the caller still waits — is marked here, before the span ends.
		span.SetAttributes(attribute.Bool(telemetry.AttrTimeout, true))
	}
	if e.class.Failure(r, err) {
		msg := "failed"
		if err != nil {
			msg = err.Error()
		}
		span.SetStatus(codes.Error, msg)
	}
	if e.hasRetry {
		span.SetAttributes(attribute.Int(telemetry.AttrRetries, int(retries.Load())))
	}
	if e.breaker != nil {
		span.SetAttributes(attribute.String(telemetry.AttrBreakerState, e.breaker.State().String()))
	}
	if n, wait := admitted.load(); n > 0 {
		span.SetAttributes(attribute.Int64(telemetry.AttrBulkheadInFlight, n), attribute.Int64(telemetry.AttrBulkheadWaitUs, wait.Microseconds()))
	}
	e.recordRejection(ctx, err)
	if e.adapt != nil {
		e.adapt.finish(span, &limAdm, &note, err, e.t.Metrics, e.edge)
	}
	return r, err
}

// admission is what a bulkhead did for one call: the most attempts in flight when one of its
// attempts got a permit (itself included) and the longest it waited for one. An attempt starts
// once the retry delay is over (failsafe's AttemptStartTime), so the time from there to the
// attempt function is the wait for the permit.
type admission struct {
	inFlight, waitNs atomic.Int64
}

func (a *admission) record(n int64, wait time.Duration) {
	for cur := a.inFlight.Load(); n > cur && !a.inFlight.CompareAndSwap(cur, n); cur = a.inFlight.Load() {
	}
	for cur := a.waitNs.Load(); int64(wait) > cur && !a.waitNs.CompareAndSwap(cur, int64(wait)); cur = a.waitNs.Load() {
	}
}

func (a *admission) load() (int64, time.Duration) {
	return a.inFlight.Load(), time.Duration(a.waitNs.Load())
}

// recordRejection marks the span when the breaker refused the call.
func (e *Executor[R]) recordRejection(ctx context.Context, err error) {
	if err != nil && errors.Is(err, ErrOpen) {
		trace.SpanFromContext(ctx).SetAttributes(attribute.Bool(telemetry.AttrBreakerRejected, true))
	}
}

// State is the breaker state: closed, open, half-open, or "none" without a breaker.
func (e *Executor[R]) State() string {
	if e.breaker == nil {
		return "none"
	}
	return e.breaker.State().String()
}

// Edge is the edge name this executor protects.
func (e *Executor[R]) Edge() string { return e.edge }

func (e *Executor[R]) onTransition(ev circuitbreaker.StateChangedEvent) {
	from, to := ev.OldState.String(), ev.NewState.String()
	// The span event first: its timestamp is the transition's time for the lab's judges, so
	// it must not wait behind the metrics and a log write.
	if ctx := ev.Context(); ctx != nil {
		span := trace.SpanFromContext(ctx)
		span.AddEvent(telemetry.EventBreakerTransition, trace.WithAttributes(
			attribute.String(telemetry.AttrEdge, e.edge), attribute.String("from", from), attribute.String("to", to)))
		span.SetAttributes(attribute.String(telemetry.AttrBreakerState, to))
	}
	m := e.t.Metrics
	m.BreakerTransitions.WithLabelValues(e.edge, from, to).Inc()
	m.BreakerState.WithLabelValues(e.edge).Set(gaugeValue(ev.NewState))
	e.logger.Warn("resilience: breaker state changed", "from", from, "to", to)
}

func gaugeValue(s circuitbreaker.State) float64 {
	switch s {
	case circuitbreaker.OpenState:
		return telemetry.BreakerOpen
	case circuitbreaker.HalfOpenState:
		return telemetry.BreakerHalfOpen
	}
	return telemetry.BreakerClosed
}

// sampledLog logs a per-call mechanism at most once a second per kind, with how many it
// skipped, so a retry storm cannot flood stderr while every event is still counted in metrics.
type sampledLog struct {
	mu   sync.Mutex
	last map[string]time.Time
	skip map[string]int
}

func newSampledLog() *sampledLog {
	return &sampledLog{last: map[string]time.Time{}, skip: map[string]int{}}
}

func (s *sampledLog) log(l *slog.Logger, kind, msg string, args ...any) {
	s.mu.Lock()
	now := time.Now()
	if now.Sub(s.last[kind]) < time.Second {
		s.skip[kind]++
		s.mu.Unlock()
		return
	}
	skipped := s.skip[kind]
	s.last[kind], s.skip[kind] = now, 0
	s.mu.Unlock()
	l.Info(msg, append(args, "suppressed_since_last", skipped)...)
}
