package telemetry

// Metric names from docs/contracts.md. Every metric also carries the label `service`.
const (
	MetricHTTPServerRequests = "http_server_requests_total"
	MetricHTTPServerDuration = "http_server_request_duration_seconds"
	MetricHTTPClientRequests = "http_client_requests_total"
	MetricHTTPClientDuration = "http_client_request_duration_seconds"
	MetricBreakerState       = "resilience_breaker_state"
	MetricBreakerTransitions = "resilience_breaker_transitions_total"
	MetricRetries            = "resilience_retries_total"
	MetricBulkheadRejections = "resilience_bulkhead_rejections_total"
	MetricFallbacks          = "resilience_fallbacks_total"
	MetricTimeouts           = "resilience_timeouts_total"
	MetricRateLimited        = "resilience_rate_limited_total"
	MetricCacheRequests      = "cache_requests_total"
	MetricEventsPublished    = "events_published_total"
	MetricEventsAcked        = "events_acked_total"
	MetricEventsDropped      = "events_dropped_total"
	MetricEventsConsumed     = "events_consumed_total"
	MetricOutboxPending      = "outbox_pending"
	MetricOutboxLagSeconds   = "outbox_lag_seconds"
	MetricSpansDropped       = "otel_spans_dropped_total"
	MetricLinksUnchecked     = "link_quota_unchecked_total"
	// The adaptive policies' state (system/internal/resilience/adaptive.go). A route guard's
	// adaptive limiter reports under edge "client->gateway:ROUTE".
	MetricLimiterLimit      = "resilience_adaptive_limit"
	MetricLimiterInFlight   = "resilience_adaptive_in_flight"
	MetricLimiterQueued     = "resilience_adaptive_queued"
	MetricLimiterRejections = "resilience_adaptive_rejections_total"
	MetricThrottlerRate     = "resilience_throttler_rejection_rate"
	MetricThrottlerRejects  = "resilience_throttler_rejections_total"
	MetricBudgetLeft        = "resilience_budget_left"
	MetricBudgetExceeded    = "resilience_budget_exceeded_total"
	MetricHedges            = "resilience_hedges_total"
	LabelService            = "service"
	LabelRoute              = "route"
	LabelMethod             = "method"
	LabelCode               = "code"
	LabelEdge               = "edge"
	LabelFrom               = "from"
	LabelTo                 = "to"
	LabelKind               = "kind"
	LabelResult             = "result"
	LabelSubject            = "subject"
	LabelCause              = "cause"
)

// Breaker state gauge values (resilience_breaker_state).
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// Values of labels with a closed set.
const (
	CacheHit   = "hit"
	CacheMiss  = "miss"
	CacheError = "error"

	ConsumedProcessed = "processed"
	ConsumedDuplicate = "duplicate"
	ConsumedError     = "error"

	FallbackFailOpen   = "fail_open"
	FallbackStaleCache = "stale_cache"
)

// Span attribute keys from docs/contracts.md.
const (
	AttrServiceName      = "service.name"
	AttrPeerService      = "peer.service"
	AttrEdge             = "resilience.edge"
	AttrAttempt          = "resilience.attempt"
	AttrRetries          = "resilience.retries"
	AttrBreakerState     = "resilience.breaker.state"
	AttrBreakerRejected  = "resilience.breaker.rejected"
	AttrBulkheadRejected = "resilience.bulkhead.rejected"
	AttrTimeout          = "resilience.timeout"
	AttrFallback         = "resilience.fallback"
	AttrRateLimited      = "resilience.rate_limited"
	AttrCacheHit         = "cache.hit"
	AttrQuotaChecked     = "link.quota_checked"
	AttrHTTPStatusCode   = "http.response.status_code"
	AttrDBSystem         = "db.system"
	AttrDBOperation      = "db.operation.name"
	AttrMessagingSystem  = "messaging.system"
	AttrMessagingDest    = "messaging.destination.name"
	AttrMessagingMsgID   = "messaging.message.id"
)

// Span attributes the lab's policy conformance check reads (docs/contracts.md).
const (
	// AttrRoute names the profile route (redirect, create, get, stats) whose guard admitted or
	// refused the request, on the gateway's server span.
	AttrRoute = "resilience.route"
	// AttrBulkheadInFlight is how many calls held a permit of the bulkhead, this one included,
	// when it was admitted (the most over a call's attempts): the lab checks it against
	// max_concurrent. On the pipeline span of an edge with a bulkhead, and on the server span
	// of a route with max_concurrent.
	AttrBulkheadInFlight = "resilience.bulkhead.in_flight"
	// AttrBulkheadWaitUs is how long the call waited for its permit, in microseconds (the most
	// over a call's attempts): the lab checks it against max_wait. Beside AttrBulkheadInFlight.
	AttrBulkheadWaitUs = "resilience.bulkhead.wait_us"
	// AttrLimiterLimit is the adaptive limiter's limit when the call was admitted (the least
	// over its attempts), AttrLimiterInFlight the permits held then, this call included (the
	// most), AttrLimiterQueued the calls waiting then (the most); AttrLimiterRejected marks a
	// call the limiter refused. On the pipeline span, or the server span of a route guard.
	AttrLimiterLimit    = "resilience.limiter.limit"
	AttrLimiterInFlight = "resilience.limiter.in_flight"
	AttrLimiterQueued   = "resilience.limiter.queued"
	AttrLimiterRejected = "resilience.limiter.rejected"
	// AttrThrottled marks a call the adaptive throttler refused; AttrThrottleRate is its
	// rejection rate (0..1) when the call ended.
	AttrThrottled    = "resilience.throttler.rejected"
	AttrThrottleRate = "resilience.throttler.rejection_rate"
	// AttrBudgetExceeded marks a call whose retry or hedge the budget refused.
	AttrBudgetExceeded = "resilience.budget.exceeded"
	// AttrHedges is how many hedges the call sent (on the pipeline span of a hedged edge).
	AttrHedges = "resilience.hedges"
)

// Span event names for resilience mechanisms, so the lab can build its timeline from spans too.
const (
	EventBreakerTransition = "resilience.breaker.transition"
	EventRetry             = "resilience.retry"
	// EventFallback marks a fallback answered outside the pipeline (redirect's stale cache) on
	// the span current then, naming its edge (resilience.edge) and kind (resilience.fallback).
	EventFallback = "resilience.fallback.used"
	// EventHedge marks each hedge sent (attribute resilience.attempt: the hedge's attempt).
	EventHedge = "resilience.hedge"
	// EventBudgetExceeded marks a retry or hedge the budget refused (attribute kind).
	EventBudgetExceeded = "resilience.budget.refused"
)

// ContractMetrics lists every metric docs/contracts.md names (a test keeps them in step).
var ContractMetrics = []string{
	MetricHTTPServerRequests, MetricHTTPServerDuration, MetricHTTPClientRequests, MetricHTTPClientDuration,
	MetricBreakerState, MetricBreakerTransitions, MetricRetries, MetricBulkheadRejections,
	MetricFallbacks, MetricTimeouts, MetricRateLimited, MetricCacheRequests,
	MetricEventsPublished, MetricEventsAcked, MetricEventsDropped, MetricEventsConsumed,
	MetricOutboxPending, MetricOutboxLagSeconds,
	MetricLimiterLimit, MetricLimiterInFlight, MetricLimiterQueued, MetricLimiterRejections,
	MetricThrottlerRate, MetricThrottlerRejects, MetricBudgetLeft, MetricBudgetExceeded, MetricHedges,
}

// ContractAttributes lists every span attribute docs/contracts.md names.
var ContractAttributes = []string{
	AttrServiceName, AttrPeerService, AttrEdge, AttrAttempt, AttrRetries, AttrBreakerState,
	AttrBreakerRejected, AttrBulkheadRejected, AttrTimeout, AttrFallback, AttrCacheHit,
	AttrQuotaChecked, AttrHTTPStatusCode, AttrRateLimited, AttrRoute, AttrBulkheadInFlight, AttrBulkheadWaitUs,
	AttrLimiterLimit, AttrLimiterInFlight, AttrLimiterQueued, AttrLimiterRejected,
	AttrThrottled, AttrThrottleRate, AttrBudgetExceeded, AttrHedges,
}
