// Package bounds derives from a resilience profile the worst latency each gateway route can take, and flags scenario thresholds looser than it.
//
// The worst case of one call through an edge's pipeline (system/internal/resilience
// executor.go: retry outside, bulkhead, then the timeout innermost) is
//
//	attempts × (bulkhead max_wait + min(timeout, the callee's own worst case)) + Σ backoffs
//
// as failsafe-go v0.9.8 runs it: the bulkhead sits inside the retry, so every attempt may
// wait max_wait for a permit (bulkhead/bulkheadexecutor.go PreExecute) before its timeout
// starts; the timeout cancels the attempt's context and the executor puts that deadline on
// the call, so an attempt ends at the timeout (timeout/timeoutexecutor.go). Backoff k (k = 1
// the first retry) is backoff doubled k−1 times up to max_backoff, or backoff fixed when
// max_backoff is not above it (retrypolicy/retryexecutor.go getFixedOrRandomDelay, WithBackoff
// = factor 2); jitter then multiplies it by 1 + (1 − 2r) × jitter, r in [0, 1)
// (internal/util/util.go RandomDelayFactor), so at most by 1 + jitter.
//
// A route (system/internal/resilience/guard.go) refuses at once when rate limited, waits at
// most max_wait for its bulkhead, and only then starts its timeout, at which it answers 504
// whatever the handler does: route max_wait + min(route timeout, the gateway edge's worst).
//
// The callee's own worst case counts only while its process runs its timers and the edge
// delivers its answer: a fault on the edge or a pause of the callee leaves only the caller's
// timeout. A store (PostgreSQL, Redis) and billing are bounded by the caller's timeout alone.
// No timeout on such a call means no bound.
package bounds

import (
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/system/policy"
)

// Bound is a worst-case latency; the zero value is unbounded.
type Bound struct {
	D       time.Duration
	Bounded bool
}

func at(d time.Duration) Bound { return Bound{D: d, Bounded: true} }

func (b Bound) String() string {
	if !b.Bounded {
		return "unbounded"
	}
	return b.D.String()
}

func (b Bound) plus(o Bound) Bound {
	if !b.Bounded || !o.Bounded {
		return Bound{}
	}
	return at(b.D + o.D)
}

func (b Bound) times(n int) Bound {
	if !b.Bounded {
		return b
	}
	return at(b.D * time.Duration(n))
}

// capped is min(b, limit); a limit of 0 caps nothing.
func capped(b Bound, limit time.Duration) Bound {
	if limit > 0 && (!b.Bounded || b.D > limit) {
		return at(limit)
	}
	return b
}

// Step is one link of a derivation: what it bounds, its worst case, how that follows from
// the profile, and the steps it is made of.
type Step struct {
	Name    string
	Worst   Bound
	Formula string
	Inner   []Step
}

// Lines spells the derivation one step a line, each step's parts indented under it.
func (s Step) Lines() []string {
	var out []string
	var walk func(s Step, depth int)
	walk = func(s Step, depth int) {
		out = append(out, fmt.Sprintf("%s%s: %s = %s", strings.Repeat("  ", depth), s.Name, s.Worst, s.Formula))
		for _, in := range s.Inner {
			walk(in, depth+1)
		}
	}
	walk(s, 0)
	return out
}

// Held maps an edge to the fault that can hold its answer past the callee's own worst case.
type Held map[string]string

// Route derives the worst latency of gateway route name ("redirect", "create", "get",
// "stats") under profile p.
func Route(p *policy.Profile, name string, held Held) (Step, error) {
	for _, r := range routes {
		if r.name == name {
			return routeStep(p, r, held), nil
		}
	}
	return Step{}, fmt.Errorf("bounds: unknown route %q, want one of %s", name, strings.Join(policy.KnownRoutes, ", "))
}

func routeStep(p *policy.Profile, r route, held Held) Step {
	rp := p.Route(r.name)
	edge := callStep(p, r.relay, held)
	worst, core := edge.Worst, fmt.Sprintf("%s %s (no route timeout)", edge.Name, edge.Worst)
	if t := rp.Timeout.D(); t > 0 {
		worst, core = capped(worst, t), fmt.Sprintf("min(route timeout %s, %s %s)", t, edge.Name, edge.Worst)
	}
	if w := rp.MaxWait.D(); rp.MaxConcurrent > 0 && w > 0 {
		worst, core = at(w).plus(worst), fmt.Sprintf("bulkhead wait %s + %s", w, core)
	}
	if al := rp.AdaptiveLimiter; al != nil && al.Queueing != nil {
		worst, core = at(al.MaxWaitTime.D()).plus(worst), fmt.Sprintf("adaptive limiter queue %s + %s", al.MaxWaitTime.D(), core)
	}
	return Step{Name: "route " + r.name, Worst: worst, Formula: core, Inner: []Step{edge}}
}

// callStep is one call through an edge's pipeline, the callee's work nested inside.
func callStep(p *policy.Profile, c call, held Held) Step {
	ep := p.Edge(c.edge)
	name := c.edge
	if c.why != "" {
		name += " (" + c.why + ")"
	}
	s := Step{Name: name}
	var own Bound // the callee's own worst case; unbounded unless it can be counted
	note := ""
	switch {
	case c.callee == nil:
		note = fmt.Sprintf("nothing in %s is guarded", callee(c.edge))
	case held[c.edge] != "":
		note = fmt.Sprintf("%s can hold %s's answer past its own worst case", held[c.edge], callee(c.edge))
	default:
		h := handlerStep(p, *c.callee, held)
		s.Inner, own = []Step{h}, h.Worst
	}
	t := ep.Timeout.D()
	if t <= 0 && !own.Bounded {
		if note == "" {
			note = callee(c.edge) + " is unbounded"
		}
		s.Formula = "no timeout, and " + note
		return s
	}
	attempt, text := own, fmt.Sprintf("%s %s (no timeout)", callee(c.edge), own)
	switch {
	case own.Bounded && t > 0:
		attempt, text = capped(own, t), fmt.Sprintf("min(timeout %s, %s %s)", t, callee(c.edge), own)
	case t > 0:
		attempt, text = at(t), fmt.Sprintf("timeout %s", t)
	}
	if b := ep.Bulkhead; b != nil && b.MaxConcurrent > 0 && b.MaxWait.D() > 0 {
		attempt, text = at(b.MaxWait.D()).plus(attempt), fmt.Sprintf("bulkhead wait %s + %s", b.MaxWait.D(), text)
	}
	attempt, text = adaptiveAttempt(ep, attempt, text)
	attempts, backoffs, backoffText := retries(ep.Retry)
	s.Worst = attempt.times(attempts).plus(at(backoffs))
	s.Formula = text
	if attempts > 1 {
		s.Formula = fmt.Sprintf("%d attempts × (%s)", attempts, text)
	}
	if backoffText != "" {
		s.Formula += " + " + backoffText
	}
	if note != "" {
		s.Formula += " (" + note + ")"
	}
	return s
}

// retries is how many attempts a retry policy makes and its backoffs at their longest.
func retries(r *policy.Retry) (attempts int, total time.Duration, text string) {
	if r == nil || r.MaxRetries == 0 {
		return 1, 0, ""
	}
	attempts = int(r.MaxRetries) + 1
	if r.Backoff.D() <= 0 {
		return attempts, 0, ""
	}
	var longest, nominal []string
	for k := 1; k < attempts; k++ {
		d := r.Delay(k)
		nominal = append(nominal, d.String())
		d = time.Duration(float64(d) * (1 + float64(r.Jitter)))
		total += d
		longest = append(longest, d.String())
	}
	word := "backoff"
	if len(longest) > 1 {
		word = "backoffs"
	}
	text = fmt.Sprintf("%s %s (%s", word, strings.Join(longest, " + "), strings.Join(nominal, ", "))
	if r.Jitter > 0 {
		text += fmt.Sprintf(" × (1 + jitter %g)", float64(r.Jitter))
	}
	return attempts, total, text + ")"
}

// handlerStep is a service's work for one request: its calls one after the other.
func handlerStep(p *policy.Profile, h handler, held Held) Step {
	s := Step{Name: h.name, Worst: at(0)}
	parts := make([]string, 0, len(h.calls))
	for _, c := range h.calls {
		cs := callStep(p, c, held)
		s.Inner = append(s.Inner, cs)
		s.Worst = s.Worst.plus(cs.Worst)
		parts = append(parts, fmt.Sprintf("%s %s", cs.Name, cs.Worst))
	}
	s.Formula = strings.Join(parts, " + ")
	return s
}

// adaptiveAttempt adds what the adaptive policies add to one round of attempts: a queueing
// limiter's max_wait_time before the attempt, and with a hedge the last hedge's start
// (max_hedges × delay), since the round lasts until the last hedge's attempt is over.
func adaptiveAttempt(ep policy.EdgePolicy, attempt Bound, text string) (Bound, string) {
	if al := ep.AdaptiveLimiter; al != nil && al.Queueing != nil {
		attempt, text = at(al.MaxWaitTime.D()).plus(attempt), fmt.Sprintf("adaptive limiter queue %s + %s", al.MaxWaitTime.D(), text)
	}
	if h := ep.Hedge; h != nil {
		last := time.Duration(h.Hedges()) * h.Delay.D()
		attempt, text = at(last).plus(attempt), fmt.Sprintf("last hedge at %d × %s + %s", h.Hedges(), h.Delay.D(), text)
	}
	return attempt, text
}
