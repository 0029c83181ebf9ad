package conformance

import (
	"fmt"
	"sort"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/system/policy"
	"github.com/faultline/faultline/system/topology"
)

// transition is one breaker state change. A reset is the breaker's process dying (a crash
// or restart fault on its service): its successor starts closed without a logged change.
type transition struct {
	from, to string
	at       time.Time
	reset    bool
}

// restartFaults end a process, and with it its breakers' state.
var restartFaults = map[string]bool{"crash": true, "restart": true}

// timeline is a breaker's state changes: all of them from the services' logs (complete), or
// only its openings from span events (the pipeline has no call to write the others on).
type timeline struct {
	ts       []transition
	complete bool
}

func (ix *index) breakerTimeline(e string, given []reports.BreakerTransition) timeline {
	var tl timeline
	for _, t := range given {
		if t.Edge == e {
			tl.ts = append(tl.ts, transition{from: t.From, to: t.To, at: ix.sec(t.AtS)})
		}
	}
	if len(tl.ts) > 0 {
		tl.complete = true
	} else {
		for _, at := range ix.openEvents[e] {
			tl.ts = append(tl.ts, transition{to: traces.BreakerOpen, at: ix.sec(at)})
		}
	}
	if svc, _, ok := topology.SplitEdge(e); ok && len(tl.ts) > 0 {
		for _, f := range ix.faults {
			if restartFaults[f.Fault] && f.Target == svc && f.AppliedAt >= 0 {
				tl.ts = append(tl.ts, transition{to: traces.BreakerClosed, at: ix.sec(f.AppliedAt), reset: true})
			}
		}
	}
	sort.SliceStable(tl.ts, func(a, b int) bool { return tl.ts[a].at.Before(tl.ts[b].at) })
	tl.ts = chained(tl.ts)
	return tl
}

// chainSkew is how far apart two logged transitions may be and still be put back in the
// order their states say. A breaker that half-opens and fails its trial at once logs both
// changes within a millisecond, each from its own listener; measured (retry-budget,
// 2026-12-03): "half-open -> open" stamped 0.36 ms before the "open -> half-open" it follows,
// which read as a half-open 0 s after an opening.
const chainSkew = 5 * time.Millisecond

// chained swaps adjacent transitions, logged within chainSkew of each other, whose from/to
// chain only holds the other way round (a -> b then b -> c). Transitions without a from
// (openings from span events, restarts) are left where the clock put them.
func chained(ts []transition) []transition {
	for i := 1; i+1 < len(ts); i++ {
		prev, a, b := ts[i-1], ts[i], ts[i+1]
		if a.from == "" || b.from == "" || b.at.Sub(a.at) > chainSkew {
			continue
		}
		if a.from != prev.to && b.from == prev.to && a.from == b.to {
			ts[i], ts[i+1] = b, a
		}
	}
	return ts
}

// sec is a time given in seconds from the run start.
func (ix *index) sec(s float64) time.Time {
	return ix.start.Add(time.Duration(s * float64(time.Second)))
}

// record is one result the breaker counted: an attempt that passed it, or a call its
// bulkhead refused (failsafe's breaker counts what it does not handle as a failure as a
// success). Time is when the result was known.
type record struct {
	at     time.Time
	failed bool
}

// records lists the results the breaker of an edge saw, by time. A result that looks failed
// on the span but which the breaker does not count (an answer the callee shed, a cancelled
// call) makes the opening check more lenient, never stricter.
func records(calls []*call) []record {
	var out []record
	for _, c := range calls {
		switch {
		case len(c.attempts) > 0:
			for _, a := range c.attempts {
				out = append(out, record{a.end, a.failed})
			}
		case c.bulkheadRejected:
			out = append(out, record{c.span.End, false})
		case !c.breakerRejected && c.maxNum <= 1:
			out = append(out, record{c.span.End, c.span.StatusError})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].at.Before(out[b].at) })
	return out
}

// between returns the records known in (from, to].
func between(rs []record, from, to time.Time) []record {
	i := sort.Search(len(rs), func(k int) bool { return rs[k].at.After(from) })
	j := sort.Search(len(rs), func(k int) bool { return rs[k].at.After(to) })
	return rs[i:j]
}

func (ix *index) breakerChecks(e string, b policy.Breaker, bh *policy.Bulkhead, calls []*call, given []reports.BreakerTransition) []reports.ConformanceCheck {
	tl := ix.breakerTimeline(e, given)
	rs := records(calls)
	opens := ix.opens(tl, b, rs)
	refuses := ix.refuses(tl, b, bh, calls)
	half, closes := ix.halfOpen(tl, b, calls), ix.closes(tl, b, rs)
	return []reports.ConformanceCheck{
		opens.check(e, BreakerOpens, fmt.Sprintf("opens when %d of the last %d calls failed (failure_ratio %g), or a half-open trial failed", b.Threshold(), b.Window, float64(b.FailureRatio))),
		refuses.check(e, BreakerRefuses, "refuses every call while open"),
		half.check(e, BreakerHalfOpen, fmt.Sprintf("half-opens %s after opening, not before (and then admits trials)", b.Delay.D())),
		closes.check(e, BreakerCloses, fmt.Sprintf("closes after %d successful trials", requiredSuccesses(b))),
	}
}

// requiredSuccesses is how many trial results close a half-open breaker: success_threshold,
// else (failsafe's rule) more than window minus the failure threshold.
func requiredSuccesses(b policy.Breaker) int {
	if b.SuccessThreshold > 0 {
		return int(b.SuccessThreshold)
	}
	return int(b.Window-b.Threshold()) + 1
}

// opens: every opening from closed follows at least threshold failures among the last
// window results since the breaker last closed (counted with the results known within Slack
// of the opening, whose order against it the clocks cannot tell); every reopening from
// half-open follows a failed trial.
func (ix *index) opens(tl timeline, b policy.Breaker, rs []record) verdict {
	var v verdict
	var since time.Time // when the breaker last closed; zero = the run's start
	fewest := -1
	for _, t := range tl.ts {
		switch t.to {
		case traces.BreakerClosed:
			since = t.at
		case traces.BreakerOpen:
			v.samples++
			if t.from == traces.BreakerHalfOpen {
				if !anyFailed(between(rs, t.at.Add(-Slack-tl.halfOpenedBefore(t.at)), t.at.Add(Slack))) {
					v.violate(fmt.Sprintf("reopened at %.3fs without a failed trial", ix.at(t.at)))
				}
				continue
			}
			known := between(rs, since.Add(-Slack), t.at.Add(Slack))
			uncertain := len(between(rs, t.at.Add(-Slack), t.at.Add(Slack)))
			if n := int(b.Window) + uncertain; len(known) > n {
				known = known[len(known)-n:]
			}
			f := countFailed(known)
			if fewest < 0 || f < fewest {
				fewest = f
			}
			if f < int(b.Threshold()) {
				v.violate(fmt.Sprintf("opened at %.3fs after %d failures among the last %d results", ix.at(t.at), f, len(known)))
			}
		}
	}
	v.exercised = v.samples > 0
	v.observed = "opened " + times(v.samples)
	if fewest >= 0 {
		v.observed += fmt.Sprintf("; fewest failures before an opening from closed: %d", fewest)
	}
	v.noData = "not exercised: never opened"
	return v
}

// halfOpenedBefore is how long before t the breaker last half-opened (0 if unknown).
func (tl timeline) halfOpenedBefore(t time.Time) time.Duration {
	for i := len(tl.ts) - 1; i >= 0; i-- {
		if tl.ts[i].to == traces.BreakerHalfOpen && !tl.ts[i].at.After(t) {
			return t.Sub(tl.ts[i].at)
		}
	}
	return 0
}

func anyFailed(rs []record) bool { return countFailed(rs) > 0 }

func countFailed(rs []record) int {
	n := 0
	for _, r := range rs {
		if r.failed {
			n++
		}
	}
	return n
}

// openSpells are the intervals the breaker was open. With only the openings known, a spell
// is taken to last the configured delay (or until the next opening), which is what refusing
// can be judged on without knowing when it half-opened.
func (tl timeline) openSpells(b policy.Breaker, end time.Time) [][2]time.Time {
	var out [][2]time.Time
	for i, t := range tl.ts {
		if t.to != traces.BreakerOpen {
			continue
		}
		stop := end
		if i+1 < len(tl.ts) {
			stop = tl.ts[i+1].at
		}
		if !tl.complete {
			stop = minTime(stop, t.at.Add(b.Delay.D()))
		}
		out = append(out, [2]time.Time{t.at, stop})
	}
	return out
}

// refuses: no call that arrives while the breaker is open gets through. Calls arriving within
// Slack of a transition, or within the bulkhead's max_wait after the opening (a call admitted
// just before may still queue for its permit), are not judged.
func (ix *index) refuses(tl timeline, b policy.Breaker, bh *policy.Bulkhead, calls []*call) verdict {
	var v verdict
	lead := Slack
	if bh != nil {
		lead += bh.MaxWait.D()
	}
	refused := 0
	for _, sp := range tl.openSpells(b, ix.lastEnd(calls)) {
		for _, c := range calls {
			st := c.span.Start
			if !st.After(sp[0].Add(lead)) || !st.Before(sp[1].Add(-Slack)) {
				continue
			}
			v.samples++
			if c.breakerRejected {
				refused++
				continue
			}
			v.violate("admitted a call while open (" + ix.ref(c.span.TraceID, st) + ")")
		}
	}
	v.exercised = v.samples > 0
	v.observed = fmt.Sprintf("%d calls arrived while open: %d refused, %d admitted", v.samples, refused, v.samples-refused)
	v.noData = "not exercised: no call arrived while open"
	if len(tl.ts) == 0 {
		v.observed, v.noData = "-", "not exercised: never opened"
	}
	return v
}

// halfOpen: the breaker half-opens no earlier than its delay after opening, and does not go
// on refusing calls in the open state after it.
func (ix *index) halfOpen(tl timeline, b policy.Breaker, calls []*call) verdict {
	var v verdict
	if !tl.complete {
		v.observed = "-"
		v.noData = "breaker transitions not logged for this edge (spans record only its openings)"
		if len(tl.ts) == 0 {
			v.noData = "not exercised: never opened"
		}
		return v
	}
	delay := b.Delay.D()
	var shortest, longest time.Duration
	for i, t := range tl.ts {
		if t.to != traces.BreakerOpen || i+1 >= len(tl.ts) {
			continue
		}
		next := tl.ts[i+1]
		after := next.at.Sub(t.at)
		if next.to == traces.BreakerHalfOpen {
			v.samples++
			if v.samples == 1 || after < shortest {
				shortest = after
			}
			longest = max(longest, after)
			// The opening is stamped by the span event its listener adds, after failsafe-go
			// changed the state: a listener scheduled late makes the delay look short by as
			// much (992 ms of a 1 s delay on loaded cores, retry-budget draft 2026-12-02). A
			// wrong delay (none, or half) is far outside Slack.
			if after < delay-Slack {
				v.violate(fmt.Sprintf("half-opened %s after opening at %.3fs", after.Round(time.Millisecond), ix.at(t.at)))
			}
		}
		late := t.at.Add(delay + tolerance(delay))
		for _, c := range calls {
			if c.breakerRejected && c.span.Start.After(late) && c.span.Start.Before(next.at) {
				v.violate(fmt.Sprintf("still refusing %s after opening at %.3fs (%s)", c.span.Start.Sub(t.at).Round(time.Millisecond), ix.at(t.at), ix.ref(c.span.TraceID, c.span.Start)))
				break
			}
		}
	}
	v.exercised = v.samples > 0
	v.observed = fmt.Sprintf("half-opened %s, %s–%s after opening", times(v.samples), shortest.Round(time.Millisecond), longest.Round(time.Millisecond))
	v.noData = "not exercised: never half-opened"
	if v.samples == 0 {
		v.observed = "-"
	}
	return v
}

// closes: a half-open breaker closes only after the required number of trial results (any
// that looked failed on the spans were ones the breaker does not count as failures, or it
// would have reopened).
func (ix *index) closes(tl timeline, b policy.Breaker, rs []record) verdict {
	var v verdict
	if !tl.complete {
		v.observed = "-"
		v.noData = "breaker transitions not logged for this edge (spans record only its openings)"
		if len(tl.ts) == 0 {
			v.noData = "not exercised: never opened"
		}
		return v
	}
	need := requiredSuccesses(b)
	fewest := -1
	for i, t := range tl.ts {
		if t.to != traces.BreakerHalfOpen || i+1 >= len(tl.ts) || tl.ts[i+1].to != traces.BreakerClosed || tl.ts[i+1].reset {
			continue
		}
		closed := tl.ts[i+1].at
		n := len(between(rs, t.at.Add(-Slack), closed.Add(Slack)))
		v.samples++
		if fewest < 0 || n < fewest {
			fewest = n
		}
		if n < need {
			v.violate(fmt.Sprintf("closed at %.3fs after %d trial results", ix.at(closed), n))
		}
	}
	v.exercised = v.samples > 0
	v.observed = fmt.Sprintf("closed from half-open %s; fewest trial results before closing: %d", times(v.samples), max(fewest, 0))
	v.noData = "not exercised: never closed from half-open"
	if v.samples == 0 {
		v.observed = "-"
	}
	return v
}

// lastEnd is when the last call on the edge ended: an open spell with no later transition
// lasts until then.
func (ix *index) lastEnd(calls []*call) time.Time {
	var t time.Time
	for _, c := range calls {
		if c.span.End.After(t) {
			t = c.span.End
		}
	}
	return t
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}
