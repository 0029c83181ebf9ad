package resilience

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/failsafe-go/failsafe-go/adaptivethrottler"
	"github.com/failsafe-go/failsafe-go/budget"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"
	"github.com/failsafe-go/failsafe-go/priority"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// Sentinels of the adaptive policies (errors.go has the classic ones).
var (
	ErrLimited   = adaptivelimiter.ErrExceeded   // the adaptive limiter refused the call
	ErrThrottled = adaptivethrottler.ErrExceeded // the adaptive throttler refused the call
	ErrBudget    = budget.ErrExceeded            // the budget refused a retry (the call ends with it)
)

// limiterMetrics is what both kinds of adaptive limiter (plain and prioritized) export.
type limiterMetrics interface {
	Limit() int
	Inflight() int
	Queued() int
}

// permitLimiter is an adaptive limiter a route guard acquires from directly.
type permitLimiter interface {
	limiterMetrics
	AcquirePermitWithMaxWait(ctx context.Context, maxWait time.Duration) (adaptivelimiter.Permit, error)
}

var (
	prioritizerOnce sync.Once
	prioritizer     priority.Prioritizer
)

// sharedPrioritizer is the one prioritizer of the process: every prioritized limiter of a
// service registers with it, so under overload the lowest priorities of the whole process are
// refused first. It recalibrates every second for the life of the process.
func sharedPrioritizer() priority.Prioritizer {
	prioritizerOnce.Do(func() {
		prioritizer = adaptivelimiter.NewPrioritizer()
		prioritizer.ScheduleCalibrations(context.Background(), time.Second)
	})
	return prioritizer
}

// priorityOf maps a profile priority to failsafe-go's.
func priorityOf(s string) priority.Priority {
	switch s {
	case "very_low":
		return priority.VeryLow
	case "low":
		return priority.Low
	case "high":
		return priority.High
	case "very_high":
		return priority.VeryHigh
	}
	return priority.Medium
}

// buildLimiter builds an adaptive limiter from its profile block; onExceeded counts refusals.
// The two results are the same limiter, as a pipeline policy and as its metrics.
func buildLimiter[R any](a *AdaptiveLimiter, onExceeded func(failsafe.ExecutionEvent[R])) (failsafe.Policy[R], permitLimiter) {
	minL, maxL, initial := a.Limits()
	b := adaptivelimiter.NewBuilder[R]().WithLimits(minL, maxL, initial)
	if a.MaxLimitFactor >= 1 {
		b = b.WithMaxLimitFactor(a.MaxLimitFactor)
	}
	if w := a.RecentWindow; w != nil {
		b = b.WithRecentWindow(w.MinDuration.D(), w.MaxDuration.D(), w.MinSamples)
	}
	if q := float64(a.RecentQuantile); q > 0 && q < 1 {
		b = b.WithRecentQuantile(q)
	}
	if a.BaselineWindow > 0 {
		b = b.WithBaselineWindow(a.BaselineWindow)
	}
	if q := a.Queueing; q != nil {
		b = b.WithQueueing(q.InitialRejectionFactor, q.MaxRejectionFactor).WithMaxWaitTime(a.MaxWaitTime.D())
	}
	if onExceeded != nil {
		b = b.OnLimitExceeded(onExceeded)
	}
	if a.Priority != "" {
		l := b.BuildPrioritized(sharedPrioritizer())
		return l, l
	}
	l := b.Build()
	return l, l
}

// adaptive is the adaptive part of one edge's pipeline: the policies and what each call did.
type adaptive[R any] struct {
	limiter   permitLimiter // nil without an adaptive limiter
	priority  priority.Priority
	hasPrio   bool
	throttler adaptivethrottler.AdaptiveThrottler[R]
	budget    budget.Budget
	maxRate   float64
	hedge     bool
	inFlight  atomic.Int64 // attempts holding a limiter permit (ours, ≤ the limiter's)

	// Gauges, resolved once per edge: they are set at every call.
	gLimit, gInFlight, gQueued, gThrottle, gBudget prometheus.Gauge
}

// buildAdaptive builds the edge's adaptive policies (each nil when the profile has none) and
// wires their listeners to metrics and spans. The caller places them in the pipeline.
func buildAdaptive[R any](edge string, p EdgePolicy, class Classifier[R], m *telemetry.Metrics) (a *adaptive[R], lim, thr, hedge failsafe.Policy[R]) {
	a = &adaptive[R]{}
	if p.Budget != nil {
		a.maxRate = float64(p.Budget.MaxRate)
		bb := budget.NewBuilder()
		if a.maxRate > 0 {
			bb = bb.WithMaxRate(a.maxRate)
		} else {
			a.maxRate = 0.2
		}
		if p.Budget.MinConcurrency > 0 {
			bb = bb.WithMinConcurrency(p.Budget.MinConcurrency)
		}
		bb = bb.OnBudgetExceeded(func(ev budget.ExceededEvent) {
			kind := string(ev.ExecutionType)
			m.BudgetExceeded.WithLabelValues(edge, kind).Inc()
			if ev.ExecutionInfo != nil {
				if ex, ok := ev.ExecutionInfo.(interface{ Context() context.Context }); ok {
					span := trace.SpanFromContext(ex.Context())
					span.AddEvent(telemetry.EventBudgetExceeded, trace.WithAttributes(attribute.String(telemetry.AttrEdge, edge), attribute.String("kind", kind)))
					span.SetAttributes(attribute.Bool(telemetry.AttrBudgetExceeded, true))
				}
			}
		})
		a.budget = bb.Build()
		a.gBudget = m.BudgetLeft.WithLabelValues(edge)
		a.gBudget.Set(a.maxRate)
	}
	if al := p.AdaptiveLimiter; al != nil {
		lim, a.limiter = buildLimiter(al, func(ev failsafe.ExecutionEvent[R]) {
			m.LimiterRejections.WithLabelValues(edge).Inc()
			trace.SpanFromContext(ev.Context()).SetAttributes(attribute.Bool(telemetry.AttrLimiterRejected, true))
		})
		a.hasPrio, a.priority = al.Priority != "", priorityOf(al.Priority)
		a.gLimit, a.gInFlight, a.gQueued = m.LimiterLimit.WithLabelValues(edge), m.LimiterInFlight.WithLabelValues(edge), m.LimiterQueued.WithLabelValues(edge)
		a.gLimit.Set(float64(a.limiter.Limit()))
	}
	if t := p.AdaptiveThrottler; t != nil {
		tb := adaptivethrottler.NewBuilder[R]().HandleIf(func(r R, err error) bool {
			// The callee's failures, its own shedding included (that is the signal client-side
			// throttling exists for); not what this pipeline refused itself.
			if errors.Is(err, ErrFull) || errors.Is(err, ErrLimited) || errors.Is(err, context.Canceled) {
				return false
			}
			return class.Failure(r, err)
		})
		if t.FailureRateThreshold > 0 || t.ExecutionThreshold > 0 || t.ThresholdingPeriod > 0 {
			period := t.ThresholdingPeriod.D()
			if period == 0 {
				period = time.Minute
			}
			rate := float64(t.FailureRateThreshold)
			if rate == 0 {
				rate = 0.1
			}
			tb = tb.WithFailureRateThreshold(rate, t.ExecutionThreshold, period)
		}
		if t.MaxRejectionRate > 0 {
			tb = tb.WithMaxRejectionRate(float64(t.MaxRejectionRate))
		}
		a.throttler = tb.Build()
		a.gThrottle = m.ThrottlerRate.WithLabelValues(edge)
		a.gThrottle.Set(0)
		thr = a.throttler
	}
	if h := p.Hedge; h != nil {
		a.hedge = true
		hb := hedgepolicy.NewBuilderWithDelay[R](h.Delay.D()).WithMaxHedges(int(h.Hedges())).
			// Outstanding hedges are cancelled by a good answer, not by the first failure: a
			// hedge exists to beat a slow or failing first attempt.
			CancelIf(func(r R, err error) bool { return !class.Failure(r, err) }).
			OnHedge(func(ev failsafe.ExecutionEvent[R]) {
				m.Hedges.WithLabelValues(edge).Inc()
				if note, ok := ev.Context().Value(callNoteKey{}).(*callNote); ok {
					note.hedges.Add(1)
				}
				trace.SpanFromContext(ev.Context()).AddEvent(telemetry.EventHedge, trace.WithAttributes(
					attribute.String(telemetry.AttrEdge, edge), attribute.Int(telemetry.AttrAttempt, ev.Attempts())))
			})
		if a.budget != nil {
			hb = hb.WithBudget(a.budget)
		}
		hedge = hb.Build()
	}
	return a, lim, thr, hedge
}

// any reports whether the edge has an adaptive policy.
func (a *adaptive[R]) any() bool {
	return a.limiter != nil || a.throttler != nil || a.budget != nil || a.hedge
}

// withPriority puts the limiter's priority on the call's context.
func (a *adaptive[R]) withPriority(ctx context.Context) context.Context {
	if a.hasPrio {
		return priority.ContextWithPriority(ctx, a.priority)
	}
	return ctx
}

// limiterAdmission is what the adaptive limiter did for one call: the least limit, the most
// permits held and the most calls waiting when one of its attempts was admitted.
type limiterAdmission struct {
	set                     atomic.Bool
	limit, inFlight, queued atomic.Int64
}

func (l *limiterAdmission) record(limit, inFlight, queued int64) {
	if l.set.CompareAndSwap(false, true) {
		l.limit.Store(limit)
	}
	for cur := l.limit.Load(); limit < cur && !l.limit.CompareAndSwap(cur, limit); cur = l.limit.Load() {
	}
	for cur := l.inFlight.Load(); inFlight > cur && !l.inFlight.CompareAndSwap(cur, inFlight); cur = l.inFlight.Load() {
	}
	for cur := l.queued.Load(); queued > cur && !l.queued.CompareAndSwap(cur, queued); cur = l.queued.Load() {
	}
}

// admit records an attempt inside the limiter; the returned func ends it.
func (a *adaptive[R]) admit(adm *limiterAdmission) func() {
	n := a.inFlight.Add(1)
	adm.record(int64(a.limiter.Limit()), n, int64(a.limiter.Queued()))
	return func() { a.inFlight.Add(-1) }
}

// callNote is what refused one call, gathered from its final error and from the cause its
// fallback answered for, so a refusal is counted once.
type callNote struct {
	throttled atomic.Bool
	hedges    atomic.Int32 // hedges sent, over all of the call's retries
}

type callNoteKey struct{}

// finish writes what the call did on its span, counts a throttler refusal and refreshes the
// gauges.
func (a *adaptive[R]) finish(span trace.Span, adm *limiterAdmission, note *callNote, err error, m *telemetry.Metrics, edge string) {
	if a.limiter != nil {
		if adm.set.Load() {
			span.SetAttributes(attribute.Int64(telemetry.AttrLimiterLimit, adm.limit.Load()),
				attribute.Int64(telemetry.AttrLimiterInFlight, adm.inFlight.Load()),
				attribute.Int64(telemetry.AttrLimiterQueued, adm.queued.Load()))
		}
		a.gLimit.Set(float64(a.limiter.Limit()))
		a.gInFlight.Set(float64(a.limiter.Inflight()))
		a.gQueued.Set(float64(a.limiter.Queued()))
	}
	if a.throttler != nil {
		rate := a.throttler.RejectionRate()
		a.gThrottle.Set(rate)
		span.SetAttributes(attribute.Float64(telemetry.AttrThrottleRate, rate))
	}
	if a.budget != nil {
		a.gBudget.Set(max(0, a.maxRate-a.budget.Rate()))
	}
	if a.hedge {
		span.SetAttributes(attribute.Int(telemetry.AttrHedges, int(note.hedges.Load())))
	}
	a.noteRefusal(span, note, err)
	if note.throttled.Load() {
		m.ThrottlerRejects.WithLabelValues(edge).Inc()
	}
}

// noteRefusal marks the span with what refused the call; called with the final error and with
// the cause a fallback answered for.
func (a *adaptive[R]) noteRefusal(span trace.Span, note *callNote, err error) {
	if err == nil || note == nil {
		return
	}
	if errors.Is(err, ErrThrottled) {
		note.throttled.Store(true)
		span.SetAttributes(attribute.Bool(telemetry.AttrThrottled, true))
	}
	if errors.Is(err, ErrLimited) {
		span.SetAttributes(attribute.Bool(telemetry.AttrLimiterRejected, true))
	}
}

// routeLimiter is a gateway route's adaptive limiter, in place of a static max_concurrent.
type routeLimiter struct {
	route                      string
	lim                        permitLimiter
	maxWait                    time.Duration
	prio                       priority.Priority
	hasPrio                    bool
	inFlight                   atomic.Int64
	m                          *telemetry.Metrics
	edge                       string // the label its metrics carry: client->gateway:ROUTE
	gLimit, gInFlight, gQueued prometheus.Gauge
}

func newRouteLimiter(route string, a *AdaptiveLimiter, m *telemetry.Metrics) *routeLimiter {
	_, lim := buildLimiter[any](a, nil)
	edge := GuardEdge + ":" + route
	l := &routeLimiter{route: route, lim: lim, maxWait: a.MaxWaitTime.D(), prio: priorityOf(a.Priority), hasPrio: a.Priority != "", m: m, edge: edge,
		gLimit: m.LimiterLimit.WithLabelValues(edge), gInFlight: m.LimiterInFlight.WithLabelValues(edge), gQueued: m.LimiterQueued.WithLabelValues(edge)}
	l.gLimit.Set(float64(lim.Limit()))
	return l
}

// acquire admits the request or answers 503 limit_exceeded; release records the request's
// latency with the limiter (its signal) and returns the permit.
func (l *routeLimiter) acquire(w http.ResponseWriter, r *http.Request, span trace.Span, sampled *sampledLog, logger *slog.Logger) (release func(), ok bool) {
	ctx := r.Context()
	if l.hasPrio {
		ctx = priority.ContextWithPriority(ctx, l.prio)
	}
	permit, err := l.lim.AcquirePermitWithMaxWait(ctx, l.maxWait)
	l.refresh()
	if err != nil {
		l.m.LimiterRejections.WithLabelValues(l.edge).Inc()
		span.SetAttributes(attribute.Bool(telemetry.AttrLimiterRejected, true))
		sampled.log(logger, "limiter", "resilience: route adaptive limit reached", "limit", l.lim.Limit())
		reject(w, http.StatusServiceUnavailable, "limit_exceeded", "adaptive concurrency limit reached on route "+l.route)
		return nil, false
	}
	n := l.inFlight.Add(1)
	span.SetAttributes(attribute.Int64(telemetry.AttrLimiterLimit, int64(l.lim.Limit())),
		attribute.Int64(telemetry.AttrLimiterInFlight, n), attribute.Int64(telemetry.AttrLimiterQueued, int64(l.lim.Queued())))
	return func() {
		l.inFlight.Add(-1)
		permit.Record()
		l.refresh()
	}, true
}

func (l *routeLimiter) refresh() {
	l.gLimit.Set(float64(l.lim.Limit()))
	l.gInFlight.Set(float64(l.lim.Inflight()))
	l.gQueued.Set(float64(l.lim.Queued()))
}
