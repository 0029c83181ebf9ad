package telemetry

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds every metric of docs/contracts.md; the `service` label is added by the
// registerer, so callers only give the other labels.
type Metrics struct {
	HTTPServerRequests *prometheus.CounterVec   // route, method, code
	HTTPServerDuration *prometheus.HistogramVec // route, method
	HTTPClientRequests *prometheus.CounterVec   // edge, code
	HTTPClientDuration *prometheus.HistogramVec // edge
	BreakerState       *prometheus.GaugeVec     // edge
	BreakerTransitions *prometheus.CounterVec   // edge, from, to
	Retries            *prometheus.CounterVec   // edge
	BulkheadRejections *prometheus.CounterVec   // edge
	Fallbacks          *prometheus.CounterVec   // edge, kind
	Timeouts           *prometheus.CounterVec   // edge
	RateLimited        *prometheus.CounterVec   // route
	CacheRequests      *prometheus.CounterVec   // result
	EventsPublished    *prometheus.CounterVec   // subject
	EventsAcked        *prometheus.CounterVec   // subject
	EventsDropped      *prometheus.CounterVec   // subject, cause
	EventsConsumed     *prometheus.CounterVec   // subject, result
	OutboxPending      prometheus.Gauge
	OutboxLagSeconds   prometheus.Gauge
	SpansDropped       prometheus.Counter
	LinksUnchecked     prometheus.Counter
	// The adaptive policies (docs/contracts.md).
	LimiterLimit      *prometheus.GaugeVec   // edge
	LimiterInFlight   *prometheus.GaugeVec   // edge
	LimiterQueued     *prometheus.GaugeVec   // edge
	LimiterRejections *prometheus.CounterVec // edge
	ThrottlerRate     *prometheus.GaugeVec   // edge
	ThrottlerRejects  *prometheus.CounterVec // edge
	BudgetLeft        *prometheus.GaugeVec   // edge
	BudgetExceeded    *prometheus.CounterVec // edge, kind (retry|hedge)
	Hedges            *prometheus.CounterVec // edge
}

// Latency buckets from 1 ms to 10 s: loopback calls are sub-millisecond, faults add seconds.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(r prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		r.MustRegister(v)
		return v
	}
	hist := func(name, help string, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}, labels)
		r.MustRegister(v)
		return v
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		r.MustRegister(g)
		return g
	}
	m := &Metrics{
		HTTPServerRequests: counter(MetricHTTPServerRequests, "HTTP requests served.", LabelRoute, LabelMethod, LabelCode),
		HTTPServerDuration: hist(MetricHTTPServerDuration, "HTTP request latency on the server.", LabelRoute, LabelMethod),
		HTTPClientRequests: counter(MetricHTTPClientRequests, "HTTP requests sent per edge (each attempt).", LabelEdge, LabelCode),
		HTTPClientDuration: hist(MetricHTTPClientDuration, "HTTP client attempt latency per edge.", LabelEdge),
		BreakerTransitions: counter(MetricBreakerTransitions, "Circuit breaker state transitions.", LabelEdge, LabelFrom, LabelTo),
		Retries:            counter(MetricRetries, "Retries scheduled per edge.", LabelEdge),
		BulkheadRejections: counter(MetricBulkheadRejections, "Calls rejected by a full bulkhead.", LabelEdge),
		Fallbacks:          counter(MetricFallbacks, "Fallbacks used per edge and kind.", LabelEdge, LabelKind),
		Timeouts:           counter(MetricTimeouts, "Attempts cut by the per-attempt timeout.", LabelEdge),
		RateLimited:        counter(MetricRateLimited, "Requests refused by a route's rate limiter.", LabelRoute),
		CacheRequests:      counter(MetricCacheRequests, "Cache lookups by result.", LabelResult),
		EventsPublished:    counter(MetricEventsPublished, "Events sent to JetStream.", LabelSubject),
		EventsAcked:        counter(MetricEventsAcked, "Events acknowledged by JetStream.", LabelSubject),
		EventsDropped:      counter(MetricEventsDropped, "Events given up on, by cause.", LabelSubject, LabelCause),
		EventsConsumed:     counter(MetricEventsConsumed, "Events handled by consumers, by result.", LabelSubject, LabelResult),
		OutboxPending:      gauge(MetricOutboxPending, "Outbox rows not yet acknowledged by JetStream."),
		OutboxLagSeconds:   gauge(MetricOutboxLagSeconds, "Age of the oldest unsent outbox row."),
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		r.MustRegister(v)
		return v
	}
	m.LimiterLimit = gaugeVec(MetricLimiterLimit, "Adaptive limiter's current concurrency limit.", LabelEdge)
	m.LimiterInFlight = gaugeVec(MetricLimiterInFlight, "Calls holding an adaptive limiter permit.", LabelEdge)
	m.LimiterQueued = gaugeVec(MetricLimiterQueued, "Calls waiting for an adaptive limiter permit.", LabelEdge)
	m.LimiterRejections = counter(MetricLimiterRejections, "Calls refused by an adaptive limiter.", LabelEdge)
	m.ThrottlerRate = gaugeVec(MetricThrottlerRate, "Adaptive throttler's rejection rate (0..1).", LabelEdge)
	m.ThrottlerRejects = counter(MetricThrottlerRejects, "Calls refused by an adaptive throttler.", LabelEdge)
	m.BudgetLeft = gaugeVec(MetricBudgetLeft, "Share of in-flight calls the retry/hedge budget still allows as retries or hedges (max_rate - rate).", LabelEdge)
	m.BudgetExceeded = counter(MetricBudgetExceeded, "Retries and hedges refused by the budget.", LabelEdge, LabelKind)
	m.Hedges = counter(MetricHedges, "Hedged attempts sent.", LabelEdge)
	m.BreakerState = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricBreakerState, Help: "Breaker state: 0 closed, 1 half-open, 2 open."}, []string{LabelEdge})
	r.MustRegister(m.BreakerState)
	m.SpansDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: MetricSpansDropped, Help: "Spans that could not be queued or exported."})
	r.MustRegister(m.SpansDropped)
	m.LinksUnchecked = prometheus.NewCounter(prometheus.CounterOpts{Name: MetricLinksUnchecked, Help: "Links created without a quota check (fail-open fallback)."})
	r.MustRegister(m.LinksUnchecked)
	return m
}

type attemptKey struct{}

// WithAttempt records the 1-based attempt number of an outbound call in ctx; the HTTP client
// puts it on the attempt's client span as resilience.attempt.
func WithAttempt(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, attemptKey{}, n)
}

// AttemptFrom returns the attempt number stored by WithAttempt, or 0.
func AttemptFrom(ctx context.Context) int {
	n, _ := ctx.Value(attemptKey{}).(int)
	return n
}
