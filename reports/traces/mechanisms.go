package traces

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/internal/percentile"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

// BreakerEvent reads a span event as a breaker state change. The contract only says state
// changes are recorded on spans, so an event counts when its name mentions "breaker" or it
// carries resilience.breaker.to; the new state is resilience.breaker.to, else
// resilience.breaker.state, else "to"/"state"; the old one resilience.breaker.from, else "from".
// The edge is the event's resilience.edge, else the span's.
func BreakerEvent(s *Span, ev *Event) (reports.BreakerTransition, bool) {
	to := firstAttr(ev.Attrs, AttrBreakerTo, AttrBreakerState, "to", "state")
	if to == "" || !(strings.Contains(strings.ToLower(ev.Name), "breaker") || hasAttr(ev.Attrs, AttrBreakerTo)) {
		return reports.BreakerTransition{}, false
	}
	edge := firstAttr(ev.Attrs, AttrEdge)
	if edge == "" {
		edge = s.Edge()
	}
	return reports.BreakerTransition{
		Service: s.Service,
		Edge:    edge,
		From:    firstAttr(ev.Attrs, AttrBreakerFrom, "from"),
		To:      to,
	}, edge != ""
}

func firstAttr(a Attrs, keys ...string) string {
	for _, k := range keys {
		if v, ok := a.Get(k); ok && v != "" {
			return v
		}
	}
	return ""
}

func hasAttr(a Attrs, key string) bool { _, ok := a.Get(key); return ok }

// Mechanisms reports what the resilience machinery did, from span attributes:
//   - retries per request per edge: over the fault-phase calls (all calls when there is no
//     fault phase), the mean and the most any single call made; a call's retries are its
//     resilience.retries, else the highest resilience.attempt among its attempts minus one,
//     else its same-edge attempt spans minus one. Edges whose spans carry neither attribute
//     are left out: no data is not zero retries;
//   - retry gaps per edge: over the same calls, the wait between the end of one attempt and
//     the start of the next (minimum and median), from the attempt spans;
//   - bulkhead rejections, fallbacks and timeouts per edge, whole run, each counted once even
//     when a span and its same-service parent both carry the attribute;
//   - rate limited: 429 server answers per service and route;
//   - cache hit ratio per phase, from spans carrying cache.hit;
//   - breaker transitions: the given ones (from metrics or logs), else span events merged with
//     the resilience.breaker.state attributes (see transitions);
//   - per edge with a breaker: time from the start of the fault on that edge, or on a component
//     or edge it leads to, until the first open; from that fault's heal until closed.
func Mechanisms(spans []Span, phases []reports.PhaseWindow, start time.Time, faults []reports.FaultEvent,
	transitions []reports.BreakerTransition) *reports.Mechanisms {
	ix := buildIndex(spans, phases, start)
	return ix.mechanisms(faults, transitions)
}

func (ix *index) mechanisms(faults []reports.FaultEvent, given []reports.BreakerTransition) *reports.Mechanisms {
	m := &reports.Mechanisms{
		RetriesPerRequest:  map[string]float64{},
		MaxRetriesPerCall:  map[string]int{},
		RetryGaps:          map[string]reports.RetryGap{},
		Retries:            map[string]int{},
		BulkheadRejections: map[string]int{},
		Fallbacks:          map[string]int{},
		Timeouts:           map[string]int{},
		RateLimited:        map[string]int{},
		CacheHitRatio:      map[string]float64{},
	}
	hasFault := false
	for _, p := range ix.phase {
		if p == reports.PhaseFault {
			hasFault = true
			break
		}
	}
	for _, e := range sortedKeys(ix.mechSpans) {
		for _, i := range ix.mechSpans[e] {
			s := &ix.spans[i]
			for _, c := range []struct {
				key string
				m   map[string]int
			}{{AttrBulkheadRejected, m.BulkheadRejections}, {AttrTimeout, m.Timeouts}} {
				if s.Bool(c.key) && !ix.parentOnEdgeHas(i, c.key) {
					c.m[e]++
				}
			}
			if s.Attr(AttrFallback) != "" && !ix.parentOnEdgeHas(i, AttrFallback) {
				m.Fallbacks[e]++
			}
		}
	}
	ix.adaptiveMechanisms(m)
	for e, calls := range ix.retryCalls() {
		n, r, most := 0, 0, 0
		for _, c := range calls {
			m.Retries[e] += c.retries
			if !hasFault || c.phase == reports.PhaseFault {
				n++
				r += c.retries
				most = max(most, c.retries)
			}
		}
		if n > 0 {
			m.RetriesPerRequest[e] = math.Round(float64(r)/float64(n)*1000) / 1000
			m.MaxRetriesPerCall[e] = most
		}
	}
	for e, gaps := range ix.retryGaps(hasFault) {
		sort.Float64s(gaps)
		m.RetryGaps[e] = reports.RetryGap{Gaps: len(gaps), MinMs: round3(gaps[0]), MedianMs: round3(percentile.Of(gaps, 50))}
	}
	for svc, idx := range ix.svcSpans {
		for _, i := range idx {
			if code, _ := ix.spans[i].Int(AttrStatusCode); code == 429 || ix.spans[i].Bool(AttrRateLimited) {
				key := ix.spans[i].Name
				if svc != topology.Entry {
					key = svc + " " + key
				}
				m.RateLimited[key]++
			}
		}
	}
	hits, seen := map[string]int{}, map[string]int{}
	for _, idx := range ix.cacheSpans {
		for _, i := range idx {
			p := ix.phase[i]
			if p == "" {
				continue
			}
			seen[p]++
			if ix.spans[i].Bool(AttrCacheHit) {
				hits[p]++
			}
		}
	}
	for p, n := range seen {
		m.CacheHitRatio[p] = math.Round(float64(hits[p])/float64(n)*10000) / 10000
	}
	m.BreakerTransitions = ix.transitions(given)
	m.Breakers = ix.breakerSummaries(m.BreakerTransitions, faults)
	return m
}

// parentOnEdgeHas says whether span i's parent, in the same service and about the same edge,
// carries key too, so the pair is one event written twice.
func (ix *index) parentOnEdgeHas(i int, key string) bool {
	j, ok := ix.parent(i)
	if !ok || ix.spans[j].Service != ix.spans[i].Service || ix.mech[j] != ix.mech[i] {
		return false
	}
	v := ix.spans[j].Attr(key)
	return v != "" && v != "false"
}

// retryCall is one call through a pipeline and how often it was retried.
type retryCall struct {
	retries int
	phase   string
}

// retryCalls finds the calls per edge whose retries are known: a span about the edge with
// resilience.retries, else its resilience.retry events; else client attempts on the edge
// grouped by their parent, the highest resilience.attempt minus one. Calls with no such data
// are left out.
func (ix *index) retryCalls() map[string][]retryCall {
	out := map[string][]retryCall{}
	owner := map[int]bool{} // spans already counted as a call
	for e, idx := range ix.mechSpans {
		for _, i := range idx {
			s := &ix.spans[i]
			n, ok := s.Int(AttrRetries)
			if !ok {
				for _, ev := range s.Events {
					if ev.Name == EventRetry {
						if v, _ := ev.Attrs.Get(AttrEdge); v == "" || v == e {
							n, ok = n+1, true
						}
					}
				}
			}
			if ok {
				out[e] = append(out[e], retryCall{max(n, 0), ix.phase[i]})
				owner[i] = true
			}
		}
	}
	type group struct {
		edge    string
		attempt int
		phase   string
	}
	groups := map[int]*group{}
	var order []int
	for e, idx := range ix.mechSpans {
		for _, i := range idx {
			s := &ix.spans[i]
			a, ok := s.Int(AttrAttempt)
			if !ok || s.Edge() != e {
				continue
			}
			key, phase := i, ix.phase[i]
			if j, ok := ix.parent(i); ok && ix.spans[j].Service == s.Service {
				if owner[j] {
					continue
				}
				key, phase = j, ix.phase[j]
			}
			g := groups[key]
			if g == nil {
				g = &group{edge: e, phase: phase}
				groups[key] = g
				order = append(order, key)
			}
			g.attempt = max(g.attempt, a)
		}
	}
	for _, k := range order {
		g := groups[k]
		out[g.edge] = append(out[g.edge], retryCall{max(g.attempt-1, 0), g.phase})
	}
	return out
}

// retryGaps measures, per edge, how long calls waited between consecutive attempts: the
// start of attempt a+1 minus the end of attempt a, in ms, for attempts that are client spans
// on the edge with resilience.attempt under the same same-service parent (the call). An
// attempt made of several spans (a transaction's statements) spans from its first start to
// its last end. Overlapping attempts (a timed-out one still closing) count as 0. Only calls
// in the fault phase are measured when there is one.
func (ix *index) retryGaps(hasFault bool) map[string][]float64 {
	type window struct{ start, end time.Time }
	type call struct {
		edge     string
		phase    string
		attempts map[int]*window
	}
	type key struct {
		parent int
		edge   string
	}
	calls := map[key]*call{}
	var order []key
	for e, idx := range ix.mechSpans {
		for _, i := range idx {
			s := &ix.spans[i]
			a, ok := s.Int(AttrAttempt)
			if !ok || a < 1 || s.Edge() != e || (s.Kind != KindClient && s.Kind != KindProducer) {
				continue
			}
			j, ok := ix.parent(i)
			if !ok || ix.spans[j].Service != s.Service {
				continue
			}
			k := key{j, e}
			c := calls[k]
			if c == nil {
				c = &call{edge: e, phase: ix.phase[j], attempts: map[int]*window{}}
				calls[k] = c
				order = append(order, k)
			}
			w := c.attempts[a]
			if w == nil {
				c.attempts[a] = &window{s.Start, s.End}
				continue
			}
			if s.Start.Before(w.start) {
				w.start = s.Start
			}
			if s.End.After(w.end) {
				w.end = s.End
			}
		}
	}
	out := map[string][]float64{}
	for _, k := range order {
		c := calls[k]
		if hasFault && c.phase != reports.PhaseFault {
			continue
		}
		for a, w := range c.attempts {
			next, ok := c.attempts[a+1]
			if !ok {
				continue
			}
			gap := max(next.start.Sub(w.end), 0)
			out[c.edge] = append(out[c.edge], float64(gap)/float64(time.Millisecond))
		}
	}
	return out
}

type pairKey struct{ service, edge string }

// transitions builds the breaker timeline. For a breaker (service, edge) the given transitions
// (from metrics or logs) win when there are any. Otherwise span events, which name their edge,
// are merged with the resilience.breaker.state attributes (read at the span's end, when the
// pipeline wrote them): a state the attributes show in two consecutive spans, or in the last
// one, that the events did not announce becomes a transition at its first sighting (the system
// records no event for some changes, e.g. to half-open). One odd span is ignored: concurrent
// calls finish out of order. Attributes booked on an ambiguous "SERVICE->*" edge are not used.
func (ix *index) transitions(given []reports.BreakerTransition) []reports.BreakerTransition {
	out := []reports.BreakerTransition{}
	have := map[pairKey]bool{}
	for _, t := range given {
		out = append(out, t)
		have[pairKey{t.Service, t.Edge}] = true
	}
	type item struct {
		at    float64
		ev    *reports.BreakerTransition
		state string
	}
	items := map[pairKey][]item{}
	for i := range ix.spans {
		s := &ix.spans[i]
		for k := range s.Events {
			t, ok := BreakerEvent(s, &s.Events[k])
			if !ok || have[pairKey{t.Service, t.Edge}] {
				continue
			}
			t.AtS = round3(ix.ph.sec(s.Events[k].Time))
			items[pairKey{t.Service, t.Edge}] = append(items[pairKey{t.Service, t.Edge}], item{at: t.AtS, ev: &t})
		}
		st := s.Attr(AttrBreakerState)
		pk := pairKey{s.Service, ix.mech[i]}
		if st == "" || pk.edge == "" || have[pk] || strings.HasSuffix(pk.edge, "->*") {
			continue
		}
		items[pk] = append(items[pk], item{at: round3(ix.ph.sec(s.End)), state: st})
	}
	for pk, seq := range items {
		sort.SliceStable(seq, func(a, b int) bool { return seq[a].at < seq[b].at })
		cur, pending, pendingAt, seen := "", "", 0.0, 0
		for k, it := range seq {
			if it.ev != nil {
				t := *it.ev
				if t.From == "" {
					t.From = cur
				}
				out = append(out, t)
				cur, pending = t.To, ""
				continue
			}
			switch {
			case cur == "":
				cur = it.state
				continue
			case it.state == cur:
				pending = ""
				continue
			case it.state != pending:
				pending, pendingAt, seen = it.state, it.at, 0
			}
			if seen++; seen >= 2 || k == len(seq)-1 {
				out = append(out, reports.BreakerTransition{Service: pk.service, Edge: pk.edge, From: cur, To: pending, AtS: pendingAt})
				cur, pending = pending, ""
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].AtS != out[b].AtS {
			return out[a].AtS < out[b].AtS
		}
		return out[a].Edge < out[b].Edge
	})
	return out
}

// breakerSummaries times each edge's breaker against the fault it answered to.
func (ix *index) breakerSummaries(ts []reports.BreakerTransition, faults []reports.FaultEvent) []reports.BreakerSummary {
	edges := map[string]bool{}
	for _, t := range ts {
		edges[t.Edge] = true
	}
	for e, idx := range ix.mechSpans {
		if strings.HasSuffix(e, "->*") {
			continue
		}
		for _, i := range idx {
			if ix.spans[i].Attr(AttrBreakerState) != "" {
				edges[e] = true
				break
			}
		}
	}
	out := []reports.BreakerSummary{}
	for _, e := range sortedKeys(edges) {
		var seq []reports.BreakerTransition
		for _, t := range ts {
			if t.Edge == e {
				seq = append(seq, t)
			}
		}
		bs := reports.BreakerSummary{Edge: e}
		for _, t := range seq {
			bs.Opened = bs.Opened || t.To == BreakerOpen
		}
		if f, openAt, ok := ix.faultAndOpen(e, seq, faults); ok {
			bs.OpenAfterS = ptr(round3(openAt - f.AppliedAt))
			if f.HealedAt > 0 {
				if c, ok := closedAfter(seq, f.HealedAt); ok {
					bs.ClosedAfterS = ptr(round3(c))
				}
			}
		}
		out = append(out, bs)
	}
	return out
}

func ptr(v float64) *float64 { return &v }

// faultAndOpen finds the first fault edge e answers to after whose start the breaker opened
// (before the heal, when there is one), and when it opened.
func (ix *index) faultAndOpen(e string, seq []reports.BreakerTransition, faults []reports.FaultEvent) (reports.FaultEvent, float64, bool) {
	related := make([]reports.FaultEvent, 0, len(faults))
	for _, f := range faults {
		if f.Error == "" && !f.Background && ix.leadsTo(e, f.Target) {
			related = append(related, f)
		}
	}
	sort.SliceStable(related, func(a, b int) bool { return related[a].AppliedAt < related[b].AppliedAt })
	for _, f := range related {
		for _, t := range seq {
			if t.To != BreakerOpen || t.AtS < f.AppliedAt {
				continue
			}
			if f.HealedAt > 0 && t.AtS > f.HealedAt {
				break
			}
			return f, t.AtS, true
		}
	}
	return reports.FaultEvent{}, 0, false
}

// leadsTo says whether calls on edge e reach target: target is e itself, its callee, or a
// component or edge downstream of its callee in the service map.
func (ix *index) leadsTo(e, target string) bool {
	if e == target {
		return true
	}
	_, callee, ok := topology.SplitEdge(e)
	if !ok {
		return false
	}
	goal := target
	if from, _, isEdge := topology.SplitEdge(target); isEdge {
		goal = from // an edge is reached once its caller is
	}
	seen := map[string]bool{callee: true}
	queue := []string{callee}
	callees := map[string][]string{}
	for k := range ix.edges {
		f, t, _ := topology.SplitEdge(k)
		callees[f] = append(callees[f], t)
	}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == goal || c == target {
			return true
		}
		for _, n := range callees[c] {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return false
}

// closedAfter returns how long after healedAt the breaker was closed: 0 when it already was.
func closedAfter(seq []reports.BreakerTransition, healedAt float64) (float64, bool) {
	state := BreakerClosed
	for _, t := range seq {
		if t.AtS > healedAt {
			break
		}
		state = t.To
	}
	if state == BreakerClosed {
		return 0, true
	}
	for _, t := range seq {
		if t.AtS > healedAt && t.To == BreakerClosed {
			return t.AtS - healedAt, true
		}
	}
	return 0, false
}
