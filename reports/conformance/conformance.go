// Package conformance checks, from the spans of a run, that the system applies every policy of its resilience profile as configured.
//
// The kill matrix proves that removing a whole policy fails the catalogue; it cannot see a
// timeout that is configured but not applied to the call, a backoff computed but never
// waited, a breaker whose threshold is read wrongly or a route limit that counts but lets
// requests through. Each check here compares one policy of one edge or route with what the
// spans show, in every run:
//
//   - timeout: every attempt on the edge ends within its timeout plus a tolerance;
//   - retry.attempts: no call makes more than max_retries + 1 attempts (1 without a retry);
//   - retry.backoff: the wait between two attempts of one call lies within the backoff of
//     that retry ± jitter (plus the bulkhead's max_wait and a tolerance above);
//   - circuit_breaker.opens, .refuses, .half_open, .closes: the breaker opens only when its
//     window and failure ratio say so, refuses calls while open, half-opens after its delay
//     and closes only after success_threshold trial calls;
//   - bulkhead.concurrency, bulkhead.wait: calls in flight never exceed max_concurrent and a
//     call never waits longer than max_wait for its permit;
//   - fallback: the fallback answers only calls whose edge failed, and (a fallback inside the
//     pipeline) every such call;
//   - route rate_limit, concurrency, wait: the gateway's route guard admits no more than its
//     rate limit over any second nor more concurrent requests than its limit.
//
// A check with data passes or fails; one whose policy never came into play is no_data
// ("not exercised"), which neither passes nor fails the run. A scenario may switch a check
// off, with a reason the report shows.
package conformance

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/system/policy"
)

// Tolerances. Spans are timed by the services' clocks on a shared 2-core machine, where a
// goroutine that was due may run late: attempts cut by a 150 ms timeout ended 0–10.4 ms after
// it, under load from other builds (retry-storm, 2026-12-01). An upper bound on a time allows
// Slack or SlackRatio of the bound, whichever is larger. A lower bound only allows
// ClockSlack: nothing makes a wait end early (but a breaker's opening is stamped late by as
// much as its listener waited: Slack there).
const (
	Slack      = 20 * time.Millisecond
	SlackRatio = 0.10
	ClockSlack = time.Millisecond
)

// tolerance is the slack allowed above an upper time bound d.
func tolerance(d time.Duration) time.Duration {
	return max(Slack, time.Duration(float64(d)*SlackRatio))
}

// TimerSlack is the least slack for a time a timer ends (an attempt cut by its timeout, a
// wait for a bulkhead permit): the timer, the cancelled I/O and the span's end all have to
// be scheduled. A permit wait of 10 ms measured 44.6 ms in a starved flood run (2026-12-01). An attempt cut by a 150 ms
// timeout ended 27.6 ms after it while another scenario ran beside the smoke run
// (2026-12-01). A timeout that is not applied overshoots by the fault's whole latency
// (hundreds of ms), far beyond it.
const TimerSlack = 50 * time.Millisecond

// timerTolerance is the slack allowed above a timer's duration d.
func timerTolerance(d time.Duration) time.Duration { return max(TimerSlack, tolerance(d)) }

// Tolerance is the slack allowed above an upper time bound d, for judges outside this
// package that hold a measured time against a configured one (scenarios/bounds).
func Tolerance(d time.Duration) time.Duration { return tolerance(d) }

// ToleranceText states the tolerances for the report.
func ToleranceText() []string {
	return []string{
		fmt.Sprintf("upper time bounds: + max(%s, %.0f%% of the bound) for scheduling on a shared machine", Slack, SlackRatio*100),
		fmt.Sprintf("an attempt's timeout, a bulkhead's max_wait: + max(%s, the above) (the timer, the cancelled I/O and the span's end must all be scheduled)", TimerSlack),
		fmt.Sprintf("lower time bounds: - %s (clock and log resolution); a breaker's half-open delay: - %s (its opening is stamped by a listener that may run late)", ClockSlack, Slack),
		fmt.Sprintf("route rate limit: request times ± %s, so a second is counted over %s", Slack, time.Second-2*Slack),
		"a time ending on a timer and over its bound by no more than the machine's lateness then (the caller's longest wait for a CPU after the bound, read every 20 ms from the kernel; the load generator's lateness) is not judged",
	}
}

// Policy names a check, per edge or route. A skip may also name a group (retry,
// circuit_breaker, bulkhead), which covers its checks.
const (
	Timeout          = "timeout"
	RetryAttempts    = "retry.attempts"
	RetryBackoff     = "retry.backoff"
	BreakerOpens     = "circuit_breaker.opens"
	BreakerRefuses   = "circuit_breaker.refuses"
	BreakerHalfOpen  = "circuit_breaker.half_open"
	BreakerCloses    = "circuit_breaker.closes"
	BulkheadInFlight = "bulkhead.concurrency"
	BulkheadWait     = "bulkhead.wait"
	Fallback         = "fallback"
	// Pipeline: every call on the edge is made inside its pipeline. A call made on the
	// caller's context instead of the attempt's escapes every policy at once (the
	// timeout-not-applied code mutant) while the pipeline's own span looks conforming.
	Pipeline          = "pipeline"
	RouteRateLimit    = "rate_limit"
	RouteConcurrency  = "concurrency"
	RouteWait         = "wait"
	groupRetry        = "retry"
	groupBreaker      = "circuit_breaker"
	groupBulkhead     = "bulkhead"
	routeTargetPrefix = "route:"
)

// EdgePolicies and RoutePolicies are the names a skip may give (checks and groups).
var (
	EdgePolicies = []string{Timeout, groupRetry, RetryAttempts, RetryBackoff, groupBreaker, BreakerOpens,
		BreakerRefuses, BreakerHalfOpen, BreakerCloses, groupBulkhead, BulkheadInFlight, BulkheadWait, Fallback, Pipeline,
		groupLimiter, LimiterConcurrency, groupHedge, HedgeCount}
	RoutePolicies = []string{RouteRateLimit, RouteConcurrency, RouteWait, groupLimiter, LimiterConcurrency}
)

// Skip switches one check (or a group: retry, circuit_breaker, bulkhead) of one edge or route
// off; Reason is shown in the report. A scenario's expect.conformance.skip lists them.
type Skip struct {
	Edge   string `json:"edge,omitempty" yaml:"edge,omitempty"` // or Route
	Route  string `json:"route,omitempty" yaml:"route,omitempty"`
	Policy string `json:"policy" yaml:"policy"`
	Reason string `json:"reason" yaml:"reason"`
}

func (s Skip) target() string {
	if s.Route != "" {
		return routeTargetPrefix + s.Route
	}
	return s.Edge
}

func (s Skip) covers(target, pol string) bool {
	return s.target() == target && (s.Policy == pol || strings.HasPrefix(pol, s.Policy+"."))
}

// Input is what a run observed.
type Input struct {
	Spans []traces.Span
	// Start is the run start: the origin of Transitions' times.
	Start time.Time
	// Transitions are the breaker state changes the services logged; span events add the
	// openings of breakers the logs do not cover.
	Transitions []reports.BreakerTransition
	Skips       []Skip
	// SpansLost is how many spans the run is known to have lost: a violation could hide in
	// them, so no check passes then (a failure stands).
	SpansLost int
	// Stalls are the moments the lab's own load generator sent late (a request's scheduled
	// time to its send): a time over its bound by no more than such a stall at that moment is
	// the machine's, not the policy's, and is not judged.
	Stalls []Stall
	// RunQueue (may be nil) is how long each service's threads waited for a CPU
	// (internal/runqueue): a timer is late by as much as its thread waited, however the
	// policy is written, so a time over its bound by no more than its caller's wait after the
	// bound is the machine's and is not judged. The load generator's stalls miss this: a
	// service thread waits while the generator, at a higher priority, sends on time.
	RunQueue RunQueue
	// Faults is the run's fault timeline: a component paused (SIGSTOP) cannot run its timers,
	// so the times it measured across the pause (an attempt, a wait) are not judged.
	Faults []reports.FaultEvent
}

// RunQueue tells how long the longest-waiting thread of a service waited on the kernel's
// run queue between two instants (0 when unknown).
type RunQueue interface {
	Waited(service string, from, to time.Time) time.Duration
}

// PauseFault is the fault that freezes a component.
const PauseFault = "pause"

// Stall is a moment the lab's load generator ran late: a request due at From went out at To.
type Stall struct{ From, To time.Time }

// MinStall is the lateness below which the generator counts as on time: a stall shorter than
// the tolerances explains nothing they do not already allow.
const MinStall = 5 * time.Millisecond

// StallsOf lists the stalls of the load generator's requests (scheduled offset from start,
// send lag) that reach MinStall.
func StallsOf(start time.Time, samples []reports.Sample) []Stall {
	var out []Stall
	for _, s := range samples {
		if s.Lag >= MinStall {
			from := start.Add(s.At)
			out = append(out, Stall{From: from, To: from.Add(s.Lag)})
		}
	}
	return out
}

// Check judges every policy of profile p against the spans, edges and routes in name order.
func Check(p *policy.Profile, in Input) *reports.Conformance {
	ix := newIndex(in.Spans, in.Start, in.Faults)
	ix.stalls = append([]Stall(nil), in.Stalls...)
	ix.runQueue = in.RunQueue
	sort.Slice(ix.stalls, func(a, b int) bool { return ix.stalls[a].From.Before(ix.stalls[b].From) })
	for _, st := range ix.stalls {
		ix.maxStall = max(ix.maxStall, st.To.Sub(st.From))
	}
	out := &reports.Conformance{Profile: p.Name, Tolerances: ToleranceText(), Checks: []reports.ConformanceCheck{}}
	for _, e := range sortedKeys(p.Edges) {
		out.Checks = append(out.Checks, ix.edgeChecks(e, p.Edges[e], in.Transitions)...)
	}
	for _, r := range sortedKeys(p.Routes) {
		out.Checks = append(out.Checks, ix.routeChecks(r, p.Routes[r])...)
	}
	applySkips(out, in.Skips)
	if in.SpansLost > 0 {
		for i := range out.Checks {
			if c := &out.Checks[i]; c.Status == reports.ConformancePass {
				c.Status = reports.ConformanceNoData
				c.Reason = fmt.Sprintf("%d spans were lost: a violation could hide in them", in.SpansLost)
			}
		}
	}
	for _, c := range out.Checks {
		switch c.Status {
		case reports.ConformanceFail:
			out.Failed++
		case reports.ConformancePass:
			out.Passed++
		case reports.ConformanceNoData:
			out.NoData++
		case reports.ConformanceSkipped:
			out.Skipped++
		}
	}
	return out
}

// applySkips marks the checks a scenario switched off; a skip that matches no check of the
// profile in use is listed too, so a typo or a profile without that policy shows.
func applySkips(out *reports.Conformance, skips []Skip) {
	for _, s := range skips {
		matched := false
		for i := range out.Checks {
			c := &out.Checks[i]
			if s.covers(c.Target, c.Policy) {
				c.Status, c.Reason, matched = reports.ConformanceSkipped, s.Reason, true
			}
		}
		if !matched {
			out.Checks = append(out.Checks, reports.ConformanceCheck{Target: s.target(), Policy: s.Policy,
				Configured: "not configured in profile " + out.Profile, Observed: "-", Status: reports.ConformanceSkipped, Reason: s.Reason})
		}
	}
}

// verdict builds a check line from what was counted.
type verdict struct {
	samples    int
	violations int
	examples   []string
	exercised  bool
	observed   string
	noData     string // why there is nothing to check, when not exercised
}

func (v *verdict) violate(example string) {
	v.violations++
	if len(v.examples) < 3 {
		v.examples = append(v.examples, example)
	}
}

func (v verdict) check(target, pol, configured string) reports.ConformanceCheck {
	c := reports.ConformanceCheck{Target: target, Policy: pol, Configured: configured, Observed: v.observed,
		Samples: v.samples, Violations: v.violations, Examples: v.examples}
	switch {
	case v.violations > 0:
		c.Status = reports.ConformanceFail
	case v.exercised:
		c.Status = reports.ConformancePass
	default:
		c.Status = reports.ConformanceNoData
		c.Reason = v.noData
		if c.Reason == "" {
			c.Reason = "not exercised"
		}
	}
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ms writes a duration in milliseconds, to 0.1 ms.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
