package traces

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

func TestMechanismsFixture(t *testing.T) {
	m := Mechanisms(loadFixture(t), fixturePhases, fixtureStart, fixtureFaults, nil)
	if got := len(m.BreakerTransitions); got != 9 {
		t.Errorf("%d breaker transitions, want 9 (open, 3×half-open/open, half-open, closed): %+v", got, m.BreakerTransitions)
	}
	var rl *reports.BreakerSummary
	for i := range m.Breakers {
		if m.Breakers[i].Edge == "redirect->link" {
			rl = &m.Breakers[i]
		} else if m.Breakers[i].Opened {
			t.Errorf("breaker %s opened", m.Breakers[i].Edge)
		}
	}
	if rl == nil || !rl.Opened || rl.OpenAfterS == nil || rl.ClosedAfterS == nil {
		t.Fatalf("redirect->link summary = %+v, want opened and closed", rl)
	}
	// first miss after 20 s is at 20.48 s; three 200 ms timeouts 20 ms apart → open at 21.129
	if *rl.OpenAfterS != 1.129 || *rl.ClosedAfterS != 6.49 {
		t.Errorf("open after %v s, closed after %v s; want 1.129 and 6.49", *rl.OpenAfterS, *rl.ClosedAfterS)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"retries per request redirect->link", m.RetriesPerRequest["redirect->link"], 0.1}, // 2 retries over 20 fault-phase misses
		{"retries per request gateway->link", m.RetriesPerRequest["gateway->link"], 0},
		{"most retries in one call redirect->link", float64(m.MaxRetriesPerCall["redirect->link"]), 2}, // the one miss that exhausted its retries
		{"retry gap min redirect->link", m.RetryGaps["redirect->link"].MinMs, 20},                      // the profile's 20 ms between attempts
		{"retry gaps redirect->link", float64(m.RetryGaps["redirect->link"].Gaps), 2},
		{"retries redirect->link", float64(m.Retries["redirect->link"]), 2},
		{"fallbacks redirect->link", float64(m.Fallbacks["redirect->link"]), 24}, // 19 rejected + 1 exhausted in the fault, 4 in recovery before closing
		{"timeouts redirect->link", float64(m.Timeouts["redirect->link"]), 4},    // requests with a timed-out attempt: the first miss and 3 half-open trials
		{"cache hit ratio fault", m.CacheHitRatio["fault"], 0.96},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// every protected call has its own span naming its edge
	for _, e := range []string{"gateway->redirect", "gateway->link", "link->billing"} {
		if v, ok := m.RetriesPerRequest[e]; !ok || v != 0 {
			t.Errorf("retries per request %s = %v (known %v), want 0", e, v, ok)
		}
	}
	if len(m.Breakers) != 4 {
		t.Errorf("breakers = %+v, want gateway->link, gateway->redirect, link->billing, redirect->link", m.Breakers)
	}
	if _, ok := m.RetriesPerRequest["redirect->redis"]; ok {
		t.Errorf("redirect->redis has retries per request without any retry attribute")
	}
}

func TestMechanismsCounting(t *testing.T) {
	g := newGen()
	tr := g.newTrace()
	srv, wrap, a1, a2 := g.newSpan(), g.newSpan(), g.newSpan(), g.newSpan()
	at := g.at(12)
	e := "gateway->link"
	g.add(tr, srv, SpanID{}, "gateway", "POST /api/links", KindServer, at, at.Add(9e6), false, kv(AttrStatusCode, "201"))
	g.add(tr, wrap, srv, "gateway", "POST", KindClient, at, at.Add(8e6), false, kv(AttrEdge, e, AttrPeerService, "link", AttrFallback, "fail_open", AttrTimeout, "true"))
	// attempts: a timeout marked on both the attempt and its wrapper counts once
	g.add(tr, a1, wrap, "gateway", "POST", KindClient, at, at.Add(2e6), true, kv(AttrEdge, e, AttrAttempt, "1", AttrTimeout, "true"))
	g.add(tr, a2, wrap, "gateway", "POST", KindClient, at, at.Add(2e6), true, kv(AttrEdge, e, AttrAttempt, "2", AttrBulkheadRejected, "true"))
	// rate limited at the gateway, and in a service
	g.add(g.newTrace(), g.newSpan(), SpanID{}, "gateway", "GET /r/{code}", KindServer, at, at.Add(1e5), true, kv(AttrStatusCode, "429"))
	g.add(g.newTrace(), g.newSpan(), SpanID{}, "link", "POST /links", KindServer, at, at.Add(1e5), true, kv(AttrStatusCode, "429"))
	// breaker state only as attributes, on two spans of another edge
	for i, st := range []string{"closed", "open"} {
		t0 := g.at(13 + float64(i))
		g.add(g.newTrace(), g.newSpan(), SpanID{}, "redirect", "GET", KindClient, t0, t0.Add(1e6), false, kv(AttrEdge, "redirect->link", AttrBreakerState, st))
	}
	faults := []reports.FaultEvent{{Fault: "crash", Target: "link", AppliedAt: 11, HealedAt: 0}}
	m := Mechanisms(g.spans, twoPhases, fixtureStart, faults, nil)
	if m.Timeouts[e] != 1 || m.Fallbacks[e] != 1 || m.BulkheadRejections[e] != 1 {
		t.Errorf("timeouts %d fallbacks %d bulkhead %d, want 1 each", m.Timeouts[e], m.Fallbacks[e], m.BulkheadRejections[e])
	}
	if m.RetriesPerRequest[e] != 1 || m.Retries[e] != 1 {
		t.Errorf("retries per request %v, retries %d; want 1 (highest attempt 2)", m.RetriesPerRequest[e], m.Retries[e])
	}
	if m.RateLimited["GET /r/{code}"] != 1 || m.RateLimited["link POST /links"] != 1 {
		t.Errorf("rate limited = %v", m.RateLimited)
	}
	if len(m.BreakerTransitions) != 1 || m.BreakerTransitions[0].To != "open" || m.BreakerTransitions[0].AtS != 14.001 {
		t.Fatalf("transitions from attributes = %+v, want closed→open at 14.001 s (the end of the first span seen open)", m.BreakerTransitions)
	}
	var b reports.BreakerSummary
	for _, x := range m.Breakers {
		if x.Edge == "redirect->link" {
			b = x
		}
	}
	if !b.Opened || b.OpenAfterS == nil || *b.OpenAfterS != 3.001 || b.ClosedAfterS != nil {
		t.Errorf("summary = %+v, want opened 3 s after the crash of link, never healed", b)
	}
	// given transitions win over what the spans say for the same breaker
	given := []reports.BreakerTransition{{Service: "redirect", Edge: "redirect->link", From: "closed", To: "open", AtS: 11.5},
		{Service: "redirect", Edge: "redirect->link", From: "open", To: "closed", AtS: 19}}
	m = Mechanisms(g.spans, twoPhases, fixtureStart, []reports.FaultEvent{{Target: "link->link-db", AppliedAt: 11, HealedAt: 17}}, given)
	if len(m.BreakerTransitions) != 2 {
		t.Fatalf("transitions = %+v, want the 2 given", m.BreakerTransitions)
	}
	for _, x := range m.Breakers {
		if x.Edge == "redirect->link" && (x.OpenAfterS == nil || *x.OpenAfterS != 0.5 || x.ClosedAfterS == nil || *x.ClosedAfterS != 2) {
			t.Errorf("summary = %+v, want open after 0.5 s, closed 2 s after the heal", x)
		}
	}
}

// TestMechanismEdgeFromAttributes: the edge a mechanism is about is read from the span, never
// inferred from its children: a route guard's timeout is the guard's (client->gateway, as the
// system counts it), not the edge its handler was calling; a span naming no edge is booked on
// the ambiguous "SERVICE->*".
func TestMechanismEdgeFromAttributes(t *testing.T) {
	g := newGen()
	at := g.at(12)
	// one server span with children on two edges, the first failed
	server := func(svc, route string, attrs Attrs, events ...Event) int {
		tr := g.newTrace()
		srv := g.newSpan()
		i := g.add(tr, srv, SpanID{}, svc, route, KindServer, at, at.Add(5e6), false, attrs)
		g.spans[i].Events = events
		for k, e := range []string{svc + "->a", svc + "->b"} {
			p := g.newSpan()
			g.add(tr, p, srv, svc, "resilience "+e, KindInternal, at, at.Add(2e6), k == 0, kv(AttrEdge, e, AttrRetries, "0"))
			g.add(tr, g.newSpan(), p, svc, "GET", KindClient, at, at.Add(1e6), k == 0, kv(AttrEdge, e, AttrAttempt, "1"))
		}
		return i
	}
	pipeline := server("gateway", "GET /x", nil) + 1 // the first pipeline span after it
	guardTimeout := server("gateway", "GET /r/{code}", kv(AttrRoute, "redirect", AttrTimeout, "true"))
	guardRejected := server("gateway", "POST /api/links", kv(AttrRoute, "create", AttrRateLimited, "true"))
	stale := server("redirect", "GET /r/{code}", kv(AttrFallback, "stale_cache"),
		Event{Name: EventFallback, Time: at, Attrs: kv(AttrEdge, "redirect->link", AttrFallback, "stale_cache")})
	unnamed := server("link", "POST /links", kv(AttrBreakerState, "open", AttrTimeout, "true"))
	plain := server("link", "GET /links/{code}", kv(AttrStatusCode, "200"))
	// the shape before every protected call had its own span: attempts right under the server
	// span, which carries the attributes; the failed attempt's edge is not taken for theirs
	tr := g.newTrace()
	srv := g.newSpan()
	oldShape := g.add(tr, srv, SpanID{}, "link", "POST /links", KindServer, at, at.Add(5e6), false, kv(AttrFallback, "fail_open"))
	g.add(tr, g.newSpan(), srv, "link", "GET", KindClient, at, at.Add(1e6), true, kv(AttrEdge, "link->billing", AttrAttempt, "1"))
	g.add(tr, g.newSpan(), srv, "link", "sql", KindClient, at, at.Add(1e6), false, kv(AttrEdge, "link->link-db", AttrAttempt, "1"))
	ix := buildIndex(g.spans, twoPhases, fixtureStart)
	for _, c := range []struct {
		name string
		i    int
		want string
	}{
		{"the pipeline's own span", pipeline, "gateway->a"},
		{"a route guard's timeout is the guard's", guardTimeout, "client->gateway"},
		{"a route guard's refusal", guardRejected, "client->gateway"},
		{"a fallback event names its edge", stale, "redirect->link"},
		{"no edge named: not inferred from the failed child", unnamed, "link->*"},
		{"no mechanism", plain, ""},
		{"old shape: not inferred from the failed attempt", oldShape, "link->*"},
	} {
		if got := ix.mech[c.i]; got != c.want {
			t.Errorf("%s: edge = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLeadsTo(t *testing.T) {
	ix := buildIndex(loadFixture(t), fixturePhases, fixtureStart)
	for _, c := range []struct {
		edge, target string
		want         bool
	}{
		{"redirect->link", "redirect->link", true},
		{"redirect->link", "link", true},
		{"redirect->link", "link-db", true},
		{"redirect->link", "link->link-db", true},
		{"redirect->link", "redis", false},
		{"gateway->redirect", "link-db", true},
		{"gateway->analytics", "link-db", false},
	} {
		if got := ix.leadsTo(c.edge, c.target); got != c.want {
			t.Errorf("leadsTo(%s, %s) = %v, want %v", c.edge, c.target, got, c.want)
		}
	}
}

func TestBreakerEvent(t *testing.T) {
	s := &Span{Service: "redirect", Attrs: kv(AttrEdge, "redirect->link")}
	for _, c := range []struct {
		name string
		ev   Event
		ok   bool
		to   string
	}{
		{"contract attrs", Event{Name: "state change", Attrs: kv(AttrBreakerTo, "open")}, true, "open"},
		{"breaker name, state attr", Event{Name: "circuit_breaker.transition", Attrs: kv("from", "open", "state", "half-open")}, true, "half-open"},
		{"unrelated", Event{Name: "exception", Attrs: kv("state", "boom")}, false, ""},
		{"no state", Event{Name: "breaker"}, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, ok := BreakerEvent(s, &c.ev)
			if ok != c.ok || tr.To != c.to || (ok && tr.Edge != "redirect->link") {
				t.Errorf("got %+v %v", tr, ok)
			}
		})
	}
}

func TestTransitionsMergeEventsAndAttributes(t *testing.T) {
	g := newGen()
	e := "gateway->link"
	obs := func(sec float64, state string, events ...Event) {
		at := g.at(sec)
		i := g.add(g.newTrace(), g.newSpan(), SpanID{}, "gateway", "POST /api/links", KindServer, at.Add(-1e6), at, false,
			kv(AttrEdge, e, AttrBreakerState, state))
		g.spans[i].Events = events
	}
	ev := func(sec float64, from, to string) Event {
		return Event{Name: EventBreakerTransition, Time: g.at(sec), Attrs: kv(AttrEdge, e, "from", from, "to", to)}
	}
	obs(1, "closed")
	obs(2, "closed")
	obs(5, "open", ev(5, "closed", "open"))
	obs(5.5, "closed") // a call that began before the open and finished after: ignored
	obs(6, "open")
	obs(8, "half-open") // no event for this one
	obs(8.2, "half-open")
	obs(9, "closed")
	obs(9.5, "closed")
	m := Mechanisms(g.spans, twoPhases, fixtureStart, []reports.FaultEvent{{Target: "link", AppliedAt: 4, HealedAt: 7}}, nil)
	var got []string
	for _, tr := range m.BreakerTransitions {
		got = append(got, fmt.Sprintf("%s→%s@%g", tr.From, tr.To, tr.AtS))
	}
	want := []string{"closed→open@5", "open→half-open@8", "half-open→closed@9"}
	if !slices.Equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
	b := m.Breakers[0]
	if b.OpenAfterS == nil || *b.OpenAfterS != 1 || b.ClosedAfterS == nil || *b.ClosedAfterS != 2 {
		t.Errorf("summary %+v, want open 1 s after the fault, closed 2 s after the heal", b)
	}
}

// retryStorm writes n calls on edge in the fault phase of twoPhases, each an INTERNAL
// pipeline span with its attempts as CLIENT children (the system's shape); call i makes
// retries[i] retries (0 when absent), each attempt 5 ms long and gap after the previous one.
func retryStorm(g *gen, edge string, n int, retries map[int]int, gap time.Duration, withAttr bool) {
	from, to, _ := topology.SplitEdge(edge)
	for i := range n {
		tr := g.newTrace()
		srv, call := g.newSpan(), g.newSpan()
		start := g.at(10.5 + float64(i)*0.01)
		at := start
		r := retries[i]
		for a := 1; a <= r+1; a++ {
			end := at.Add(5 * time.Millisecond)
			g.add(tr, g.newSpan(), call, from, "POST", KindClient, at, end, a <= r,
				kv(AttrEdge, edge, AttrPeerService, to, AttrAttempt, strconv.Itoa(a)))
			at = end.Add(gap)
		}
		attrs := kv(AttrEdge, edge)
		if withAttr {
			attrs = append(attrs, Attr{AttrRetries, strconv.Itoa(r)})
		}
		g.add(tr, call, srv, from, "resilience "+edge, KindInternal, start, at, false, attrs)
		g.add(tr, srv, SpanID{}, from, "POST /links", KindServer, start, at, false, kv(AttrStatusCode, "201"))
	}
}

// TestMaxRetriesPerCall: one call with 3 retries among many with none is the most retries in
// one call, though the mean is far below 1 (judged by TestJudgeMaxRetriesPerCall).
func TestMaxRetriesPerCall(t *testing.T) {
	const edge = "link->billing"
	cases := []struct {
		name     string
		retries  map[int]int
		withAttr bool // resilience.retries on the call span, else counted from the attempts
		mean     float64
		most     int
	}{
		{"one storming call, attribute", map[int]int{7: 3}, true, 0.075, 3},
		{"one storming call, attempts only", map[int]int{7: 3}, false, 0.075, 3},
		{"retries within the bound", map[int]int{3: 1, 9: 1}, true, 0.05, 1},
		{"no retries", nil, true, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := StormMechanisms(edge, c.retries, c.withAttr)
			if m.RetriesPerRequest[edge] != c.mean || m.MaxRetriesPerCall[edge] != c.most {
				t.Errorf("mean %v most %d, want %v %d", m.RetriesPerRequest[edge], m.MaxRetriesPerCall[edge], c.mean, c.most)
			}
		})
	}
}

// TestRetryGaps: the wait between one call's attempts shows a backoff, or its absence.
func TestRetryGaps(t *testing.T) {
	const edge = "link->billing"
	for _, c := range []struct {
		name    string
		gap     time.Duration
		wantMin float64
	}{
		{"backoff", 20 * time.Millisecond, 20},
		{"no backoff", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGen()
			retryStorm(g, edge, 10, map[int]int{2: 2, 5: 1}, c.gap, true)
			m := Mechanisms(g.spans, twoPhases, fixtureStart, nil, nil)
			got, ok := m.RetryGaps[edge]
			if !ok || got.Gaps != 3 || got.MinMs != c.wantMin || got.MedianMs != c.wantMin {
				t.Errorf("retry gaps %+v (present %v), want 3 gaps of %v ms", got, ok, c.wantMin)
			}
		})
	}
	// A call that never retried has no gap; an edge without retries has no entry.
	g := newGen()
	retryStorm(g, edge, 5, nil, 0, true)
	if m := Mechanisms(g.spans, twoPhases, fixtureStart, nil, nil); len(m.RetryGaps) != 0 {
		t.Errorf("retry gaps %v without any retry, want none", m.RetryGaps)
	}
}
