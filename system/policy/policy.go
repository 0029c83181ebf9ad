// Package policy reads resilience profiles for readers outside the system, such as the lab's conformance check, with the services' own parser.
package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/faultline/faultline/system/internal/resilience"
)

// The profile model, as plain data: these are the very types the services build their
// pipelines and guards from, so the lab reads a profile exactly as the services do (one
// grammar, one parse). A public package of its own because system/profiles, which embeds the
// YAML files, is imported by the parser itself.
type (
	// Profile is one resilience profile: edges, routes, event safety.
	Profile = resilience.Profile
	// EdgePolicy is the pipeline of one synchronous client edge.
	EdgePolicy = resilience.EdgePolicy
	// Retry is an edge's retry policy.
	Retry = resilience.Retry
	// Breaker is an edge's circuit breaker.
	Breaker = resilience.Breaker
	// Bulkhead bounds an edge's concurrent calls.
	Bulkhead = resilience.Bulkhead
	// RoutePolicy is the guard of one gateway route.
	RoutePolicy = resilience.RoutePolicy
	// Duration is a profile duration.
	Duration = resilience.Duration
	// Ratio is a profile number in [0, 1].
	Ratio = resilience.Ratio
	// RateKind is a route limiter's kind: smooth or bursty.
	RateKind = resilience.RateKind
	// FallbackKind is an edge's fallback: none (""), fail_open or stale_cache.
	FallbackKind = resilience.Fallback
	// AdaptiveLimiter bounds an edge's or route's concurrency by a limit found from latency.
	AdaptiveLimiter = resilience.AdaptiveLimiter
	// AdaptiveThrottler refuses a share of calls once the callee's failure rate is high.
	AdaptiveThrottler = resilience.AdaptiveThrottler
	// Budget caps an edge's retries and hedges in flight.
	Budget = resilience.Budget
	// Hedge sends another attempt when the first is slow.
	Hedge = resilience.Hedge
)

// Fallback kinds and rate limiter kinds a profile may name.
const (
	FallbackNone       = resilience.FallbackNone
	FallbackFailOpen   = resilience.FallbackFailOpen
	FallbackStaleCache = resilience.FallbackStaleCache
	RateSmooth         = resilience.RateSmooth
	RateBursty         = resilience.RateBursty
)

// RateWindow is the refill period of a bursty route limiter: it admits rate_limit × RateWindow
// requests per window.
const RateWindow = resilience.RateWindow

// GuardEdge is the edge the gateway's route guards protect (client->gateway).
const GuardEdge = resilience.GuardEdge

// KnownRoutes are the gateway routes a profile may guard.
var KnownRoutes = resilience.KnownRoutes

// Load reads a built-in profile by name ("default"), or a YAML file by path; "" is default.
func Load(nameOrPath string) (*Profile, error) { return resilience.Load(nameOrPath) }

// Digest names a profile's content: equal for equal profiles whatever their file or name, and
// changed by any change of a setting (the lab compares it to tell an edited profile file).
func Digest(p *Profile) string {
	b, err := json.Marshal(p)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Parse decodes and validates a profile; file names the source in errors.
func Parse(file string, data []byte) (*Profile, error) { return resilience.Parse(file, data) }
