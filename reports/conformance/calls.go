package conformance

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
)

// call is one call through an edge's pipeline: the INTERNAL span every protected call carries
// (resilience.edge), its attempts (its CLIENT children on the same edge with
// resilience.attempt) and what the pipeline wrote on it.
type call struct {
	span     *traces.Span
	attempts []attempt // by attempt number; nil when the attempts made no span of their own
	maxNum   int       // the highest attempt number seen, or resilience.retries + 1
	// retryAsked: the highest attempt a retry event announced, made or not (a budget may
	// refuse it): attempt retryAsked-1 failed in the pipeline's eyes even when its HTTP span
	// shows an answer (the per-attempt timeout fired just before it came).
	retryAsked int
	// breakerRejected and bulkheadRejected: the pipeline refused (an attempt of) the call.
	breakerRejected, bulkheadRejected bool
	timedOut                          bool
	fallback                          string // the fallback kind that answered, "" for none
	inFlight, waitUs                  int
	hasInFlight, hasWait              bool
	// frozen: the caller was paused during the call, so its times are not judged.
	frozen bool
}

// attempt is one attempt's network call: from its first span's start to its last span's end
// (a transaction may write several), failed when any of them failed as the pipeline sees it.
type attempt struct {
	num        int
	start, end time.Time
	failed     bool
	trace      traces.TraceID
	frozen     bool
}

func (a attempt) duration() time.Duration { return a.end.Sub(a.start) }

// failed says whether an attempt span failed as the pipeline classifies it: an HTTP answer
// of 500 or more, else the span's error status (a connection error, a timed-out query).
func spanFailed(s *traces.Span) bool {
	if code, ok := s.Int(traces.AttrStatusCode); ok && code > 0 {
		return code >= 500
	}
	return s.StatusError
}

// edgeFailed says whether the call's edge failed: the pipeline refused it or cut it, or its
// last attempt failed. known is false when the spans cannot tell (no attempt spans and a
// status the fallback may have set).
func (c *call) edgeFailed() (failed, known bool) {
	// The per-attempt policies (timeout, and the breaker and bulkhead inside the retry) mark
	// the pipeline span when any attempt hit them: with attempt spans, the last attempt made
	// decides (a timed-out first attempt whose retry answered is a call that succeeded).
	if n := len(c.attempts); n > 0 {
		last := c.attempts[n-1]
		return last.failed || c.maxNum > last.num || c.retryAsked > last.num, true
	}
	if c.breakerRejected || c.bulkheadRejected || c.timedOut {
		return true, true
	}
	if c.fallback == "" {
		return c.span.StatusError, true
	}
	return false, false
}

// anyFailed says whether one of the call's attempts failed (or the call failed).
func (c *call) anyFailed() bool {
	for _, a := range c.attempts {
		if a.failed {
			return true
		}
	}
	f, _ := c.edgeFailed()
	return f
}

// guarded is one request a gateway route guard judged (its SERVER span).
type guarded struct {
	span *traces.Span
	// rateLimited: refused by the rate limiter, as the client saw it: answered 429. The
	// guard's own tag decides only when the span has no status.
	rateLimited bool
	// taggedNotRefused: the guard tagged the request rate-limited, yet it was answered with
	// another status (a limiter that counts but lets through).
	taggedNotRefused     bool
	bulkheadRejected     bool
	inFlight, waitUs     int
	hasInFlight, hasWait bool
	frozen               bool
}

// index holds the calls per edge and the guarded requests per route.
type index struct {
	start  time.Time
	spans  []traces.Span
	calls  map[string][]*call    // edge → calls, by start
	routes map[string][]*guarded // route → requests, by start
	// opens are the breaker openings span events recorded, per edge (times from start).
	openEvents map[string][]float64
	// outside are, per edge, the spans with a fallback event naming it (a fallback answered
	// outside the pipeline); their pipeline child on that edge is the call it answered.
	outside map[string]map[spanKey]bool
	// paused are the windows each component was frozen in.
	paused map[string][][2]time.Time
	// stalls are the moments the lab's load generator ran late, sorted by From.
	stalls   []Stall
	maxStall time.Duration
	runQueue RunQueue // nil: the callers' CPU waits were not measured
	// inside and bypassed are, per edge, how many CLIENT spans were made inside a pipeline (its
	// attempts, or a database statement traced per statement) and which were made outside any
	// pipeline while serving a request or a message (Pipeline).
	inside   map[string]int
	bypassed map[string][]*traces.Span
	byKey    map[spanKey]*traces.Span // every span by its ids
	faults   []reports.FaultEvent
}

// lateOver is how late the machine could have made a time of service that was held to the
// bound due and ended at end, for a call or wait spanning [start, end]: the longest one
// thread of service waited for a CPU from due to end (the timer's goroutine may have been
// queued behind it), or the longest the lab's own load generator ran late within
// [start, end] (a stall that held the lab held the services too: 2 shared cores).
func (ix *index) lateOver(service string, start, due, end time.Time) time.Duration {
	// stalls are sorted by From and none is longer than maxStall: only those from
	// start-maxStall on can overlap.
	i := sort.Search(len(ix.stalls), func(i int) bool { return !ix.stalls[i].From.Before(start.Add(-ix.maxStall)) })
	var worst time.Duration
	for ; i < len(ix.stalls) && ix.stalls[i].From.Before(end); i++ {
		if st := ix.stalls[i]; st.To.After(start) {
			worst = max(worst, st.To.Sub(st.From))
		}
	}
	if ix.runQueue != nil {
		worst = max(worst, ix.runQueue.Waited(service, due, end))
	}
	return worst
}

// servesWork says whether k is a span of work done for someone: a request served or a message
// processed.
func (ix *index) servesWork(k spanKey) bool {
	p := ix.byKey[k]
	return p != nil && (p.Kind == traces.KindServer || p.Kind == traces.KindConsumer)
}

// callerGone says whether the request s was made for had been abandoned before s ended: the
// server span above s was called by a client span (in another service) that had already
// ended (traces.GaveUp), so when s failed nobody waited for its answer, fallback or not.
func (ix *index) callerGone(s *traces.Span) bool {
	server := ix.byKey[spanKey{s.TraceID, s.ParentSpanID}]
	for server != nil && server.Kind != traces.KindServer {
		server = ix.byKey[spanKey{server.TraceID, server.ParentSpanID}]
	}
	if server == nil {
		return false
	}
	return traces.GaveUp(ix.byKey[spanKey{server.TraceID, server.ParentSpanID}], server, s.End)
}

// frozen says whether s's service was paused at some time between its start and end.
func (ix *index) frozen(s *traces.Span) bool {
	for _, w := range ix.paused[s.Service] {
		if s.Start.Before(w[1]) && s.End.After(w[0]) {
			return true
		}
	}
	return false
}

func pauses(start time.Time, faults []reports.FaultEvent) map[string][][2]time.Time {
	out := map[string][][2]time.Time{}
	for _, f := range faults {
		if f.Fault != PauseFault || f.AppliedAt < 0 {
			continue
		}
		to := time.Duration(f.HealedAt * float64(time.Second))
		if f.HealedAt <= f.AppliedAt {
			to = 1<<62 - 1 // never resumed
		}
		out[f.Target] = append(out[f.Target], [2]time.Time{start.Add(time.Duration(f.AppliedAt * float64(time.Second))), start.Add(to)})
	}
	return out
}

type spanKey struct {
	trace traces.TraceID
	span  traces.SpanID
}

func newIndex(spans []traces.Span, start time.Time, faults []reports.FaultEvent) *index {
	ix := &index{start: start, spans: spans, calls: map[string][]*call{}, routes: map[string][]*guarded{},
		openEvents: map[string][]float64{}, outside: map[string]map[spanKey]bool{}, paused: pauses(start, faults), faults: faults}
	byID := make(map[spanKey]*call)
	for i := range spans {
		s := &spans[i]
		ix.readEvents(s)
		switch {
		case s.Kind == traces.KindInternal && s.Attr(traces.AttrEdge) != "":
			c := newCall(s)
			c.frozen = ix.frozen(s)
			e := s.Attr(traces.AttrEdge)
			ix.calls[e] = append(ix.calls[e], c)
			byID[spanKey{s.TraceID, s.SpanID}] = c
		case s.Kind == traces.KindServer && s.Attr(traces.AttrRoute) != "":
			g := newGuarded(s)
			g.frozen = ix.frozen(s)
			r := s.Attr(traces.AttrRoute)
			ix.routes[r] = append(ix.routes[r], g)
		}
	}
	// attempts: CLIENT children of a pipeline span, on its edge, carrying resilience.attempt
	ix.byKey = make(map[spanKey]*traces.Span, len(spans))
	wraps := map[spanKey]bool{} // spans that are the parent of a pipeline span (redis GET)
	for i := range spans {
		s := &spans[i]
		ix.byKey[spanKey{s.TraceID, s.SpanID}] = s
		if _, ok := byID[spanKey{s.TraceID, s.SpanID}]; ok {
			wraps[spanKey{s.TraceID, s.ParentSpanID}] = true
		}
	}
	ix.inside, ix.bypassed = map[string]int{}, map[string][]*traces.Span{}
	for i := range spans {
		s := &spans[i]
		if s.Kind != traces.KindClient && s.Kind != traces.KindProducer {
			continue
		}
		n, ok := s.Int(traces.AttrAttempt)
		c := byID[spanKey{s.TraceID, s.ParentSpanID}]
		if c == nil || s.Edge() != c.span.Attr(traces.AttrEdge) {
			// Not a pipeline's child: a call made while serving a request or processing a
			// message (its parent a SERVER or CONSUMER span: analytics applies events under
			// the consumer's span) that no pipeline wraps either went round the edge's
			// policies. A root span is background work (the outbox relay's), not judged.
			// Before the run's start the lab discarded the set-up's spans, children first
			// (they end first): a wrapper from then may have lost its pipeline span.
			if s.Edge() != "" && !s.Start.Before(start) && ix.servesWork(spanKey{s.TraceID, s.ParentSpanID}) && !wraps[spanKey{s.TraceID, s.SpanID}] {
				ix.bypassed[s.Edge()] = append(ix.bypassed[s.Edge()], s)
			}
			continue
		}
		ix.inside[s.Edge()]++
		if !ok || n < 1 {
			continue
		}
		c.addAttempt(n, s, ix.frozen(s))
	}
	for _, cs := range ix.calls {
		for _, c := range cs {
			sort.Slice(c.attempts, func(a, b int) bool { return c.attempts[a].num < c.attempts[b].num })
			if len(c.attempts) > 0 {
				c.maxNum = max(c.maxNum, c.attempts[len(c.attempts)-1].num)
			}
		}
		sort.SliceStable(cs, func(a, b int) bool { return cs[a].span.Start.Before(cs[b].span.Start) })
	}
	for _, gs := range ix.routes {
		sort.SliceStable(gs, func(a, b int) bool { return gs[a].span.Start.Before(gs[b].span.Start) })
	}
	return ix
}

func newCall(s *traces.Span) *call {
	c := &call{span: s,
		breakerRejected:  s.Bool(traces.AttrBreakerRejected),
		bulkheadRejected: s.Bool(traces.AttrBulkheadRejected),
		timedOut:         s.Bool(traces.AttrTimeout),
		fallback:         s.Attr(traces.AttrFallback),
	}
	if r, ok := s.Int(traces.AttrRetries); ok {
		c.maxNum = r + 1
	}
	edge := s.Attr(traces.AttrEdge)
	for _, ev := range s.Events {
		if ev.Name != traces.EventRetry {
			continue
		}
		if e, _ := ev.Attrs.Get(traces.AttrEdge); e != "" && e != edge {
			continue
		}
		if v, _ := ev.Attrs.Get(traces.AttrAttempt); v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				c.retryAsked = max(c.retryAsked, n)
			}
		}
	}
	c.inFlight, c.hasInFlight = s.Int(traces.AttrBulkheadInFlight)
	c.waitUs, c.hasWait = s.Int(traces.AttrBulkheadWaitUs)
	return c
}

func newGuarded(s *traces.Span) *guarded {
	g := &guarded{span: s, rateLimited: s.Bool(traces.AttrRateLimited), bulkheadRejected: s.Bool(traces.AttrBulkheadRejected)}
	if status, ok := s.Int(traces.AttrStatusCode); ok {
		g.taggedNotRefused = g.rateLimited && status != http.StatusTooManyRequests
		g.rateLimited = status == http.StatusTooManyRequests
	}
	g.inFlight, g.hasInFlight = s.Int(traces.AttrBulkheadInFlight)
	g.waitUs, g.hasWait = s.Int(traces.AttrBulkheadWaitUs)
	return g
}

func (c *call) addAttempt(n int, s *traces.Span, frozen bool) {
	for i := range c.attempts {
		a := &c.attempts[i]
		if a.num == n {
			if s.Start.Before(a.start) {
				a.start = s.Start
			}
			if s.End.After(a.end) {
				a.end = s.End
			}
			a.failed = a.failed || spanFailed(s)
			a.frozen = a.frozen || frozen
			return
		}
	}
	c.attempts = append(c.attempts, attempt{num: n, start: s.Start, end: s.End, failed: spanFailed(s), trace: s.TraceID, frozen: frozen})
}

// readEvents keeps what span events name about an edge: breaker openings, and fallbacks
// answered outside the pipeline (on the caller's span, whose pipeline child is the call).
func (ix *index) readEvents(s *traces.Span) {
	for k := range s.Events {
		ev := &s.Events[k]
		if t, ok := traces.BreakerEvent(s, ev); ok && t.To == traces.BreakerOpen {
			ix.openEvents[t.Edge] = append(ix.openEvents[t.Edge], ev.Time.Sub(ix.start).Seconds())
		}
		if ev.Name == traces.EventFallback {
			if e, _ := ev.Attrs.Get(traces.AttrEdge); e != "" {
				if ix.outside[e] == nil {
					ix.outside[e] = map[spanKey]bool{}
				}
				ix.outside[e][spanKey{s.TraceID, s.SpanID}] = true
			}
		}
	}
}

// answeredOutside says whether a fallback outside the pipeline answered for call c: its
// parent span carries the fallback event naming c's edge.
func (ix *index) answeredOutside(e string, c *call) bool {
	return ix.outside[e][spanKey{c.span.TraceID, c.span.ParentSpanID}]
}

// at is a time in seconds from the run start, for examples.
func (ix *index) at(t time.Time) float64 { return t.Sub(ix.start).Seconds() }

// ref names a span for an example: its trace id and its time from the run start.
func (ix *index) ref(tr traces.TraceID, t time.Time) string {
	return fmt.Sprintf("trace %s at %.3fs", tr, ix.at(t))
}
