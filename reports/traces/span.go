// Package traces turns the system's spans into a service map, a blast radius and the resilience mechanisms they show.
package traces

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/system/topology"
)

// Span attribute and resource names, as docs/contracts.md "Span attributes" fixes them. The
// system keeps its own copies in system/internal/telemetry/names.go, which the lab may not
// import; names_test.go checks that both agree.
const (
	AttrServiceName      = "service.name" // resource attribute
	AttrPeerService      = "peer.service"
	AttrEdge             = "resilience.edge"
	AttrAttempt          = "resilience.attempt"
	AttrRetries          = "resilience.retries"
	AttrBreakerState     = "resilience.breaker.state"
	AttrBreakerRejected  = "resilience.breaker.rejected"
	AttrBulkheadRejected = "resilience.bulkhead.rejected"
	AttrTimeout          = "resilience.timeout"
	AttrFallback         = "resilience.fallback"
	AttrCacheHit         = "cache.hit"
	AttrQuotaChecked     = "link.quota_checked"
	AttrStatusCode       = "http.response.status_code"
	AttrHTTPRoute        = "http.route"
	AttrRateLimited      = "resilience.rate_limited"
	AttrRoute            = "resilience.route"              // the profile route a gateway guard judged
	AttrBulkheadInFlight = "resilience.bulkhead.in_flight" // permits held when admitted, this call included
	AttrBulkheadWaitUs   = "resilience.bulkhead.wait_us"   // µs waited for the permit
	// The adaptive policies (docs/contracts.md).
	AttrLimiterLimit    = "resilience.limiter.limit"     // the adaptive limit when admitted (least over attempts)
	AttrLimiterInFlight = "resilience.limiter.in_flight" // limiter permits held when admitted, this call included
	AttrLimiterRejected = "resilience.limiter.rejected"
	AttrThrottled       = "resilience.throttler.rejected"
	AttrBudgetExceeded  = "resilience.budget.exceeded"
	AttrHedges          = "resilience.hedges" // hedges the call sent
	AttrLimiterQueued   = "resilience.limiter.queued"
	AttrThrottleRate    = "resilience.throttler.rejection_rate"
)

// Span event names the system writes for resilience mechanisms.
const (
	EventBreakerTransition = "resilience.breaker.transition" // attrs resilience.edge, from, to
	EventRetry             = "resilience.retry"              // attrs resilience.edge, resilience.attempt
	EventFallback          = "resilience.fallback.used"      // attrs resilience.edge, resilience.fallback
	EventHedge             = "resilience.hedge"              // attrs resilience.edge, resilience.attempt
	EventBudgetRefused     = "resilience.budget.refused"     // attrs resilience.edge, kind
)

// Breaker states as the system writes them in resilience.breaker.state.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

// Attributes of a breaker state-change span event. The contract only says state changes are
// "recorded on spans", so the event is recognised leniently (see BreakerEvent).
const (
	AttrBreakerFrom = "resilience.breaker.from"
	AttrBreakerTo   = "resilience.breaker.to"
)

// KeptAttrs are the attributes worth holding in memory; everything else is dropped on ingestion.
var KeptAttrs = []string{
	AttrPeerService, AttrEdge, AttrAttempt, AttrRetries, AttrBreakerState, AttrBreakerRejected,
	AttrBulkheadRejected, AttrTimeout, AttrFallback, AttrCacheHit, AttrQuotaChecked,
	AttrStatusCode, AttrHTTPRoute, AttrBreakerFrom, AttrBreakerTo, AttrRateLimited,
	AttrRoute, AttrBulkheadInFlight, AttrBulkheadWaitUs,
	AttrLimiterLimit, AttrLimiterInFlight, AttrLimiterRejected, AttrThrottled, AttrBudgetExceeded, AttrHedges,
	AttrLimiterQueued, AttrThrottleRate,
}

// Kept reports whether an attribute key is one of KeptAttrs.
func Kept(key string) bool {
	switch key {
	case AttrPeerService, AttrEdge, AttrAttempt, AttrRetries, AttrBreakerState, AttrBreakerRejected,
		AttrBulkheadRejected, AttrTimeout, AttrFallback, AttrCacheHit, AttrQuotaChecked,
		AttrStatusCode, AttrHTTPRoute, AttrBreakerFrom, AttrBreakerTo, AttrRateLimited,
		AttrRoute, AttrBulkheadInFlight, AttrBulkheadWaitUs,
		AttrLimiterLimit, AttrLimiterInFlight, AttrLimiterRejected, AttrThrottled, AttrBudgetExceeded, AttrHedges,
		AttrLimiterQueued, AttrThrottleRate:
		return true
	}
	return false
}

// TraceID is a W3C trace id.
type TraceID [16]byte

// SpanID is a W3C span id; the zero value means "no parent".
type SpanID [8]byte

// IsZero reports whether the id is unset.
func (id TraceID) IsZero() bool { return id == TraceID{} }

// IsZero reports whether the id is unset.
func (id SpanID) IsZero() bool { return id == SpanID{} }

func (id TraceID) String() string { return hex.EncodeToString(id[:]) }
func (id SpanID) String() string  { return hex.EncodeToString(id[:]) }

// MarshalText writes the id as lower-case hex, as OTLP JSON does.
func (id TraceID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// MarshalText writes the id as lower-case hex, as OTLP JSON does.
func (id SpanID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads a hex id.
func (id *TraceID) UnmarshalText(b []byte) error { return decodeID(id[:], b, "trace") }

// UnmarshalText reads a hex id; an empty string is the zero id.
func (id *SpanID) UnmarshalText(b []byte) error { return decodeID(id[:], b, "span") }

func decodeID(dst, b []byte, what string) error {
	if len(b) == 0 {
		clear(dst)
		return nil
	}
	if len(b) != 2*len(dst) {
		return fmt.Errorf("traces: %s id %q: want %d hex digits", what, b, 2*len(dst))
	}
	if _, err := hex.Decode(dst, b); err != nil {
		return fmt.Errorf("traces: %s id %q: %w", what, b, err)
	}
	return nil
}

// Kind is the OTel span kind.
type Kind uint8

// Span kinds, numbered as in OTLP.
const (
	KindUnspecified Kind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unspecified"
}

// MarshalText writes the kind by name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind by name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("traces: unknown span kind %q", b)
}

// Attr is one kept attribute, its value written as a string (bools as true/false, ints in
// decimal). A slice of them is smaller than a map for the handful a span carries.
type Attr struct {
	Key, Value string
}

// KeptEvent reports whether a span event is worth holding: breaker transitions, retries and
// fallbacks answered outside a pipeline.
func KeptEvent(name string) bool {
	return name == EventBreakerTransition || name == EventRetry || name == EventFallback ||
		name == EventHedge || name == EventBudgetRefused ||
		strings.Contains(strings.ToLower(name), "breaker")
}

// Event is a span event worth keeping (breaker state changes, retries).
type Event struct {
	Name  string    `json:"name"`
	Time  time.Time `json:"time"`
	Attrs Attrs     `json:"attrs,omitempty"`
}

// Span is the compact form of one OTel span the analysis needs.
type Span struct {
	TraceID      TraceID   `json:"trace_id"`
	SpanID       SpanID    `json:"span_id"`
	ParentSpanID SpanID    `json:"parent_span_id"`
	Service      string    `json:"service"`
	Name         string    `json:"name"`
	Kind         Kind      `json:"kind"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	StatusError  bool      `json:"error,omitempty"`
	Attrs        Attrs     `json:"attrs,omitempty"`
	Events       []Event   `json:"events,omitempty"`
}

// Attrs is a span's kept attributes.
type Attrs []Attr

// Get returns an attribute's value.
func (a Attrs) Get(key string) (string, bool) {
	for _, kv := range a {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Attr returns an attribute's value, "" when absent.
func (s *Span) Attr(key string) string {
	v, _ := s.Attrs.Get(key)
	return v
}

// Bool reads a boolean attribute; absent or unparsable is false.
func (s *Span) Bool(key string) bool {
	v, ok := s.Attrs.Get(key)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// Int reads an integer attribute.
func (s *Span) Int(key string) (int, bool) {
	v, ok := s.Attrs.Get(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, false
	}
	return n, true
}

// Duration is End-Start, never negative.
func (s *Span) Duration() time.Duration {
	if d := s.End.Sub(s.Start); d > 0 {
		return d
	}
	return 0
}

// Edge names the edge a client span travelled: its resilience.edge, else Service->peer.service.
func (s *Span) Edge() string {
	if e := s.Attr(AttrEdge); e != "" {
		return e
	}
	if p := s.Attr(AttrPeerService); p != "" && s.Service != "" {
		return topology.EdgeName(s.Service, p)
	}
	return ""
}

// Failed says whether the call the span stands for failed, from the caller's or server's point
// of view. An HTTP status decides when present: 5xx, 408 and 429 failed; other 4xx are answers
// (a 404 for an unknown code is the service working), so they did not, even though OTel marks
// 4xx client spans as errors. Without a status the span status decides.
func (s *Span) Failed() bool {
	if code, ok := s.Int(AttrStatusCode); ok && code > 0 {
		switch {
		case code >= 500, code == 408, code == 429:
			return true
		case code >= 400:
			return false
		}
	}
	return s.StatusError
}
