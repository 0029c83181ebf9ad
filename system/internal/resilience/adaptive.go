package resilience

import (
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// The policies that replace static limits: an adaptive concurrency limiter (failsafe-go's
// adaptivelimiter), client-side throttling after the Google SRE book (adaptivethrottler), a
// retry/hedge budget shared by an edge's retries and hedges (budget) and hedging (hedgepolicy).
// YAML keys are failsafe-go's option names in snake case, so its documentation reads directly.

// Priorities an adaptive limiter may give its calls, lowest first (failsafe-go's priority levels).
var Priorities = []string{"very_low", "low", "medium", "high", "very_high"}

// AdaptiveLimiter bounds concurrent calls by a limit it finds from their latency: the limit
// falls when recent latency trends above the baseline and rises while it does not.
type AdaptiveLimiter struct {
	MinLimit       uint    `yaml:"min_limit"`        // default 1
	MaxLimit       uint    `yaml:"max_limit"`        // default 200
	InitialLimit   uint    `yaml:"initial_limit"`    // default 20
	MaxLimitFactor float64 `yaml:"max_limit_factor"` // limit ≤ factor × in flight; default 5
	// RecentWindow is how recent latencies are collected before the limit is adjusted.
	RecentWindow   *RecentWindow `yaml:"recent_window"`
	RecentQuantile Ratio         `yaml:"recent_quantile"` // quantile of recent latencies compared; default 0.9
	BaselineWindow uint          `yaml:"baseline_window"` // how many recent samples the baseline remembers; default 10
	// Queueing lets calls wait when the limiter is full: up to limit × initial_rejection_factor
	// wait, and rejection grows to everything beyond limit × max_rejection_factor.
	Queueing *Queueing `yaml:"queueing"`
	// MaxWaitTime bounds a queued call's wait; required with queueing (failsafe-go would
	// otherwise wait for ever).
	MaxWaitTime Duration `yaml:"max_wait_time"`
	// Priority of this limiter's calls against the other prioritized limiters of the same
	// process: under overload, lower priorities are rejected first.
	Priority string `yaml:"priority"`
}

// RecentWindow is failsafe-go's WithRecentWindow.
type RecentWindow struct {
	MinDuration Duration `yaml:"min_duration"`
	MaxDuration Duration `yaml:"max_duration"`
	MinSamples  uint     `yaml:"min_samples"`
}

// Queueing is failsafe-go's WithQueueing.
type Queueing struct {
	InitialRejectionFactor float64 `yaml:"initial_rejection_factor"`
	MaxRejectionFactor     float64 `yaml:"max_rejection_factor"`
}

// Limits returns min, max and initial limits with failsafe-go's defaults filled in.
func (a AdaptiveLimiter) Limits() (minL, maxL, initial uint) {
	minL, maxL, initial = a.MinLimit, a.MaxLimit, a.InitialLimit
	if minL == 0 {
		minL = 1
	}
	if maxL == 0 {
		maxL = max(200, minL)
	}
	if initial == 0 {
		initial = min(max(20, minL), maxL)
	}
	return minL, maxL, initial
}

// MaxQueued is the most calls that may wait at limit l: limit × max_rejection_factor − limit
// (0 without queueing).
func (a AdaptiveLimiter) MaxQueued(l uint) uint {
	if a.Queueing == nil {
		return 0
	}
	return uint(float64(l)*a.Queueing.MaxRejectionFactor) - l
}

// AdaptiveThrottler rejects a share of calls locally once the callee's recent failure rate
// passes a threshold, growing with the failures (client-side throttling).
type AdaptiveThrottler struct {
	FailureRateThreshold Ratio    `yaml:"failure_rate_threshold"` // default 0.1
	ExecutionThreshold   uint     `yaml:"execution_threshold"`    // calls in the period before any rejection
	ThresholdingPeriod   Duration `yaml:"thresholding_period"`    // default 1m
	MaxRejectionRate     Ratio    `yaml:"max_rejection_rate"`     // default 0.9
}

// Budget caps the retries and hedges in flight on the edge at max_rate of its calls in flight
// (at least min_concurrency of them), as Envoy's retry budget.
type Budget struct {
	MaxRate        Ratio `yaml:"max_rate"`        // default 0.2
	MinConcurrency uint  `yaml:"min_concurrency"` // default 3
}

// Hedge sends another attempt when the first has not answered after delay, up to max_hedges.
type Hedge struct {
	Delay     Duration `yaml:"delay"`
	MaxHedges uint     `yaml:"max_hedges"` // default 1
}

// Hedges is max_hedges with failsafe-go's default of 1.
func (h Hedge) Hedges() uint { return max(h.MaxHedges, 1) }

// HedgeableEdges are the edges whose calls are reads a second copy cannot harm: a hedge on an
// edge that carries writes (gateway->link's POST /api/links, link->link-db's INSERT, the
// analytics counter updates) could do the write twice.
var HedgeableEdges = []string{"gateway->redirect", "gateway->analytics", "redirect->link", "redirect->redis", "link->billing"}

// UnmarshalYAML checks an adaptive_limiter block as a whole, so nothing reaches failsafe-go's
// builder that would make it panic.
func (a *AdaptiveLimiter) UnmarshalYAML(n ast.Node) error {
	type plain AdaptiveLimiter
	var p plain
	if err := decodeNode(n, &p); err != nil {
		return err
	}
	v := AdaptiveLimiter(p)
	minL, maxL, initial := v.Limits()
	switch {
	case minL > maxL:
		return nodeErr(n, "adaptive_limiter: min_limit %d above max_limit %d: want min_limit <= max_limit", minL, maxL)
	case initial < minL || initial > maxL:
		return nodeErr(n, "adaptive_limiter: initial_limit %d: want it between min_limit %d and max_limit %d", initial, minL, maxL)
	case v.MaxLimitFactor != 0 && v.MaxLimitFactor < 1:
		return nodeErr(n, "adaptive_limiter: max_limit_factor %g: want a number >= 1", v.MaxLimitFactor)
	case v.RecentQuantile == 1:
		return nodeErr(n, "adaptive_limiter: recent_quantile: want a number above 0 and below 1")
	case v.Priority != "" && !slices.Contains(Priorities, v.Priority):
		return nodeErr(n, "adaptive_limiter: priority %q: want one of %s", v.Priority, strings.Join(Priorities, ", "))
	}
	if w := v.RecentWindow; w != nil {
		if w.MinDuration == 0 || w.MaxDuration < w.MinDuration {
			return nodeErr(n, "adaptive_limiter: recent_window: want 0 < min_duration <= max_duration")
		}
	}
	if q := v.Queueing; q != nil {
		if q.InitialRejectionFactor < 1 || q.MaxRejectionFactor < q.InitialRejectionFactor {
			return nodeErr(n, "adaptive_limiter: queueing: want 1 <= initial_rejection_factor <= max_rejection_factor")
		}
		if v.MaxWaitTime == 0 {
			return nodeErr(n, "adaptive_limiter: queueing without max_wait_time would let a call wait for ever: want max_wait_time like 50ms")
		}
	} else if v.MaxWaitTime != 0 {
		return nodeErr(n, "adaptive_limiter: max_wait_time without queueing: calls never wait, want queueing: {initial_rejection_factor, max_rejection_factor}")
	}
	*a = v
	return nil
}

// UnmarshalYAML checks an adaptive_throttler block as a whole.
func (t *AdaptiveThrottler) UnmarshalYAML(n ast.Node) error {
	type plain AdaptiveThrottler
	var p plain
	if err := decodeNode(n, &p); err != nil {
		return err
	}
	if p.FailureRateThreshold == 1 {
		return nodeErr(n, "adaptive_throttler: failure_rate_threshold 1 never throttles: want a number below 1")
	}
	*t = AdaptiveThrottler(p)
	return nil
}

// UnmarshalYAML checks a budget block as a whole.
func (b *Budget) UnmarshalYAML(n ast.Node) error {
	type plain Budget
	var p plain
	if err := decodeNode(n, &p); err != nil {
		return err
	}
	*b = Budget(p)
	return nil
}

// UnmarshalYAML checks a hedge block as a whole.
func (h *Hedge) UnmarshalYAML(n ast.Node) error {
	type plain Hedge
	var p plain
	if err := decodeNode(n, &p); err != nil {
		return err
	}
	if p.Delay == 0 {
		return nodeErr(n, "hedge: delay: want a positive duration like 50ms (a hedge at once doubles every call)")
	}
	*h = Hedge(p)
	return nil
}

// checkEdge checks what only the edge as a whole can tell: a budget needs a retry or a hedge to
// share, a hedge needs an edge whose calls are reads, a bulkhead and an adaptive limiter would
// bound the same calls twice.
func checkEdge(name string, p EdgePolicy, at ast.Node) error {
	hasRetry := p.Retry != nil && p.Retry.MaxRetries > 0
	switch {
	case p.Budget != nil && !hasRetry && p.Hedge == nil:
		return nodeErr(at, "edge %s: budget is shared by the edge's retries and hedges, and it has neither: add retry or hedge, or drop the budget", name)
	case p.Hedge != nil && !slices.Contains(HedgeableEdges, name):
		return nodeErr(at, "edge %s: hedge would repeat a write; hedging is allowed on %s", name, strings.Join(HedgeableEdges, ", "))
	case p.Bulkhead != nil && p.AdaptiveLimiter != nil:
		return nodeErr(at, "edge %s: bulkhead and adaptive_limiter both bound concurrency: keep one", name)
	}
	return nil
}

// checkRoute checks a route guard as a whole.
func checkRoute(name string, p RoutePolicy, at ast.Node) error {
	if p.MaxConcurrent > 0 && p.AdaptiveLimiter != nil {
		return nodeErr(at, "route %s: max_concurrent and adaptive_limiter both bound concurrency: keep one", name)
	}
	return nil
}
