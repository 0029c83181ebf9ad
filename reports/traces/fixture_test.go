package traces

import (
	"bytes"
	"encoding/binary"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

var update = flag.Bool("update", false, "rewrite the synthetic fixtures in testdata")

// The synthetic run: 60 s cut in baseline [0,20), fault [20,40), recovery [40,60); the fault is
// 400±50 ms latency on link->link-db. Streams: redirect 25/s (1 in 25 a cache miss that goes to
// link), create 3/s, stats 1.5/s. The default profile on redirect->link: 200 ms timeout per
// attempt, 2 retries 20 ms apart, a breaker that opens after 3 failures in a row, tries again
// after 5 s and closes after 3 successes, stale-cache fallback.
var (
	fixtureStart  = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	fixturePhases = []reports.PhaseWindow{
		{Name: reports.PhaseBaseline, StartS: 0, EndS: 20},
		{Name: reports.PhaseFault, StartS: 20, EndS: 40},
		{Name: reports.PhaseRecovery, StartS: 40, EndS: 60},
	}
	fixtureFaults = []reports.FaultEvent{
		{Fault: "latency", Target: "link->link-db", Params: map[string]string{"latency": "400ms", "jitter": "50ms"}, AppliedAt: 20, HealedAt: 40},
	}
)

const fixtureFile = "testdata/link-db-latency.spans.jsonl.gz"

type gen struct {
	rng   *rand.Rand
	spans []Span
	trace uint64
	span  uint64
	// breaker on redirect->link
	state     string
	failures  int
	successes int
	openedAt  time.Time
}

func (g *gen) at(s float64) time.Time {
	return fixtureStart.Add(time.Duration(s * float64(time.Second)))
}

func (g *gen) faulted(t time.Time) bool {
	s := t.Sub(fixtureStart).Seconds()
	return s >= 20 && s < 40
}

func (g *gen) newTrace() TraceID {
	g.trace++
	var id TraceID
	binary.BigEndian.PutUint64(id[8:], g.trace)
	id[0] = 0x4f
	return id
}

func (g *gen) newSpan() SpanID {
	g.span++
	var id SpanID
	binary.BigEndian.PutUint64(id[:], g.span)
	return id
}

// ms draws a duration uniformly in [lo, hi) milliseconds.
func (g *gen) ms(lo, hi float64) time.Duration {
	return time.Duration((lo + g.rng.Float64()*(hi-lo)) * float64(time.Millisecond))
}

func kv(pairs ...string) Attrs {
	out := make(Attrs, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Attr{pairs[i], pairs[i+1]})
	}
	return out
}

func (g *gen) add(tr TraceID, id, parent SpanID, svc, name string, kind Kind, start, end time.Time, failed bool, attrs Attrs) int {
	g.spans = append(g.spans, Span{TraceID: tr, SpanID: id, ParentSpanID: parent, Service: svc, Name: name,
		Kind: kind, Start: start, End: end, StatusError: failed, Attrs: attrs})
	return len(g.spans) - 1
}

// dbCall is link's query to link-db, slow while the fault is on.
func (g *gen) dbCall(tr TraceID, parent SpanID, start time.Time, name string) time.Time {
	d := g.ms(0.8, 3)
	if g.faulted(start) {
		d = g.ms(350, 450)
	}
	g.add(tr, g.newSpan(), parent, "link", name, KindClient, start, start.Add(d), false,
		kv(AttrPeerService, "link-db", AttrEdge, "link->link-db"))
	return start.Add(d)
}

// linkGet is link serving GET /links/{code}; it returns when link answered.
func (g *gen) linkGet(tr TraceID, parent SpanID, start time.Time) time.Time {
	id := g.newSpan()
	t := start.Add(g.ms(0.1, 0.3))
	end := g.dbCall(tr, id, t, "sql select").Add(g.ms(0.1, 0.3))
	g.add(tr, id, parent, "link", "GET /links/{code}", KindServer, start, end, false, kv(AttrStatusCode, "200"))
	return end
}

// mechs collects what redirect's pipeline writes on its own span about the call (one INTERNAL
// span per protected call, as system/internal/resilience does).
type mechs struct {
	attrs  Attrs
	events []Event
}

// pipeline adds the INTERNAL span a protected call on edge carries, with what the pipeline
// wrote on it.
func (g *gen) pipeline(tr TraceID, id, parent SpanID, svc, edge string, start, end time.Time, attrs Attrs, events []Event) {
	i := g.add(tr, id, parent, svc, "resilience "+edge, KindInternal, start, end, false, append(kv(AttrEdge, edge), attrs...))
	g.spans[i].Events = events
}

func (g *gen) transition(m *mechs, at time.Time, to string) {
	m.events = append(m.events, Event{Name: EventBreakerTransition, Time: at,
		Attrs: kv(AttrEdge, "redirect->link", "from", g.state, "to", to)})
	g.state = to
}

// linkCall is redirect's protected call to link on a cache miss; ok is false when link did
// not answer (the stale cache answers then, outside the pipeline).
func (g *gen) linkCall(tr TraceID, caller SpanID, start time.Time) (time.Time, bool) {
	var m mechs
	parent := g.newSpan() // the pipeline's span, the attempts' parent
	t := start
	if g.state == BreakerOpen && t.Sub(g.openedAt) >= 5*time.Second {
		g.transition(&m, t, BreakerHalfOpen)
		g.successes = 0
	}
	retries, ok, rejected, timedOut := 0, false, false, false
	for attempt := 1; attempt <= 3; attempt++ {
		if g.state == BreakerOpen {
			rejected = true
			break
		}
		if attempt > 1 {
			retries++
			m.events = append(m.events, Event{Name: EventRetry, Time: t,
				Attrs: kv(AttrEdge, "redirect->link", AttrAttempt, strconv.Itoa(attempt), "delay", "20ms")})
			t = t.Add(20 * time.Millisecond)
		}
		aid := g.newSpan()
		served := g.linkGet(tr, aid, t.Add(g.ms(0.1, 0.2)))
		attrs := kv(AttrPeerService, "link", AttrEdge, "redirect->link", AttrAttempt, strconv.Itoa(attempt))
		if served.Sub(t) > 200*time.Millisecond {
			end := t.Add(200 * time.Millisecond)
			g.add(tr, aid, parent, "redirect", "GET link", KindClient, t, end, true, attrs)
			t, timedOut = end, true
			switch g.state {
			case BreakerHalfOpen:
				g.transition(&m, t, BreakerOpen)
				g.openedAt = t
			case BreakerClosed:
				if g.failures++; g.failures >= 3 {
					g.transition(&m, t, BreakerOpen)
					g.openedAt = t
				}
			}
			continue
		}
		end := served.Add(g.ms(0.1, 0.3))
		g.add(tr, aid, parent, "redirect", "GET link", KindClient, t, end, false, append(attrs, Attr{AttrStatusCode, "200"}))
		t, ok = end, true
		switch g.state {
		case BreakerHalfOpen:
			if g.successes++; g.successes >= 3 {
				g.transition(&m, t, BreakerClosed)
			}
		case BreakerClosed:
			g.failures = 0
		}
		break
	}
	m.attrs = kv(AttrRetries, strconv.Itoa(retries), AttrBreakerState, g.state)
	if timedOut {
		m.attrs = append(m.attrs, Attr{AttrTimeout, "true"})
	}
	if rejected {
		m.attrs = append(m.attrs, Attr{AttrBreakerRejected, "true"})
	}
	end := t.Add(g.ms(0.01, 0.05))
	g.pipeline(tr, parent, caller, "redirect", "redirect->link", start, end, m.attrs, m.events)
	return end, ok
}

func (g *gen) redirect(start time.Time, miss bool) {
	tr := g.newTrace()
	gw, gc, rs := g.newSpan(), g.newSpan(), g.newSpan()
	t := start.Add(g.ms(0.05, 0.2))
	rt := t.Add(g.ms(0.1, 0.3))
	// redis lookup
	rd := g.ms(0.2, 0.9)
	g.add(tr, g.newSpan(), rs, "redirect", "redis get", KindClient, rt, rt.Add(rd), false, kv(AttrPeerService, "redis", AttrEdge, "redirect->redis"))
	end := rt.Add(rd)
	answered := true
	if miss {
		end, answered = g.linkCall(tr, rs, end.Add(g.ms(0.05, 0.1)))
	}
	end = end.Add(g.ms(0.1, 0.3))
	attrs := kv(AttrStatusCode, "302", AttrCacheHit, strconv.FormatBool(!miss))
	if !answered {
		attrs = append(attrs, Attr{AttrFallback, "stale_cache"})
	}
	i := g.add(tr, rs, gc, "redirect", "GET /r/{code}", KindServer, rt, end, false, attrs)
	if !answered {
		g.spans[i].Events = []Event{{Name: EventFallback, Time: end, Attrs: kv(AttrEdge, "redirect->link", AttrFallback, "stale_cache")}}
	}
	// the click is published after the answer, without holding it
	pt := end.Add(g.ms(0.05, 0.5))
	g.add(tr, g.newSpan(), rs, "redirect", "publish clicks.recorded", KindProducer, pt, pt.Add(g.ms(0.3, 1.2)), false,
		kv(AttrPeerService, "nats", AttrEdge, "redirect->nats"))
	ce := end.Add(g.ms(0.1, 0.3))
	gp := g.newSpan()
	g.add(tr, gc, gp, "gateway", "GET redirect", KindClient, t, ce, false, kv(AttrPeerService, "redirect", AttrEdge, "gateway->redirect", AttrStatusCode, "302", AttrAttempt, "1"))
	g.pipeline(tr, gp, gw, "gateway", "gateway->redirect", t, ce, kv(AttrRetries, "0", AttrBreakerState, BreakerClosed), nil)
	g.add(tr, gw, SpanID{}, "gateway", "GET /r/{code}", KindServer, start, ce.Add(g.ms(0.05, 0.2)), false,
		kv(AttrStatusCode, "302", AttrRoute, "redirect"))
}

func (g *gen) create(start time.Time) {
	tr := g.newTrace()
	gw, gc, ls := g.newSpan(), g.newSpan(), g.newSpan()
	t := start.Add(g.ms(0.05, 0.2))
	lt := t.Add(g.ms(0.1, 0.3))
	// quota from billing
	bc, bs := g.newSpan(), g.newSpan()
	bt := lt.Add(g.ms(0.1, 0.2))
	bd := g.ms(0.5, 1.5)
	g.add(tr, bs, bc, "billing", "GET /quota/{account}", KindServer, bt.Add(g.ms(0.05, 0.1)), bt.Add(bd), false, kv(AttrStatusCode, "200"))
	be := bt.Add(bd).Add(g.ms(0.05, 0.1))
	bp := g.newSpan()
	g.add(tr, bc, bp, "link", "GET billing", KindClient, bt, be, false, kv(AttrPeerService, "billing", AttrEdge, "link->billing", AttrStatusCode, "200", AttrAttempt, "1"))
	g.pipeline(tr, bp, ls, "link", "link->billing", bt, be, kv(AttrRetries, "0", AttrBreakerState, BreakerClosed), nil)
	end := g.dbCall(tr, ls, be.Add(g.ms(0.05, 0.1)), "sql insert").Add(g.ms(0.1, 0.3))
	g.add(tr, ls, gc, "link", "POST /links", KindServer, lt, end, false, kv(AttrStatusCode, "201", AttrQuotaChecked, "true"))
	ce := end.Add(g.ms(0.1, 0.3))
	gp := g.newSpan()
	g.add(tr, gc, gp, "gateway", "POST link", KindClient, t, ce, false, kv(AttrPeerService, "link", AttrEdge, "gateway->link", AttrStatusCode, "201", AttrAttempt, "1"))
	g.pipeline(tr, gp, gw, "gateway", "gateway->link", t, ce, kv(AttrBreakerState, BreakerClosed), nil)
	g.add(tr, gw, SpanID{}, "gateway", "POST /api/links", KindServer, start, ce.Add(g.ms(0.05, 0.2)), false,
		kv(AttrStatusCode, "201", AttrRoute, "create"))
}

func (g *gen) stats(start time.Time) {
	tr := g.newTrace()
	gw, gc, as := g.newSpan(), g.newSpan(), g.newSpan()
	t := start.Add(g.ms(0.05, 0.2))
	at := t.Add(g.ms(0.1, 0.3))
	qt := at.Add(g.ms(0.1, 0.2))
	qd := g.ms(0.6, 2.5)
	g.add(tr, g.newSpan(), as, "analytics", "sql select", KindClient, qt, qt.Add(qd), false, kv(AttrPeerService, "analytics-db", AttrEdge, "analytics->analytics-db"))
	end := qt.Add(qd).Add(g.ms(0.1, 0.2))
	g.add(tr, as, gc, "analytics", "GET /stats/{code}", KindServer, at, end, false, kv(AttrStatusCode, "200"))
	ce := end.Add(g.ms(0.1, 0.3))
	g.add(tr, gc, gw, "gateway", "GET analytics", KindClient, t, ce, false, kv(AttrPeerService, "analytics", AttrEdge, "gateway->analytics", AttrStatusCode, "200", AttrAttempt, "1"))
	g.add(tr, gw, SpanID{}, "gateway", "GET /api/links/{code}/stats", KindServer, start, ce.Add(g.ms(0.05, 0.2)), false, kv(AttrStatusCode, "200"))
}

// generateFixture builds the synthetic run, deterministically.
func generateFixture() []Span {
	g := &gen{rng: rand.New(rand.NewPCG(42, 7)), state: BreakerClosed}
	for i := range 60 * 25 {
		g.redirect(g.at(float64(i)/25+g.rng.Float64()*0.01), i%25 == 12)
	}
	for i := range 60 * 3 {
		g.create(g.at(float64(i)/3 + 0.013))
	}
	for i := range 90 {
		g.stats(g.at(float64(i)/1.5 + 0.027))
	}
	return g.spans
}

func loadFixture(t testing.TB) []Span {
	t.Helper()
	f, err := os.Open(fixtureFile)
	if err != nil {
		t.Fatalf("open fixture (regenerate with go test -run TestFixture -update): %v", err)
	}
	defer f.Close()
	spans, err := ReadSpans(f)
	if err != nil {
		t.Fatal(err)
	}
	return spans
}

// TestFixture keeps testdata in step with the generator above (-update rewrites it).
func TestFixture(t *testing.T) {
	spans := generateFixture()
	var buf bytes.Buffer
	if err := WriteSpansGzip(&buf, spans); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(fixtureFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixtureFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := loadFixture(t)
	if len(got) != len(spans) {
		t.Fatalf("fixture has %d spans, generator %d: run go test -run TestFixture -update", len(got), len(spans))
	}
	for i := range spans {
		if !spanEqual(got[i], spans[i]) {
			t.Fatalf("span %d differs from the generator's: run go test -run TestFixture -update\ngot  %+v\nwant %+v", i, got[i], spans[i])
		}
	}
}

func spanEqual(a, b Span) bool {
	if a.TraceID != b.TraceID || a.SpanID != b.SpanID || a.ParentSpanID != b.ParentSpanID || a.Service != b.Service ||
		a.Name != b.Name || a.Kind != b.Kind || !a.Start.Equal(b.Start) || !a.End.Equal(b.End) ||
		a.StatusError != b.StatusError || len(a.Attrs) != len(b.Attrs) || len(a.Events) != len(b.Events) {
		return false
	}
	for _, kv := range b.Attrs {
		if v, ok := a.Attrs.Get(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	for i := range b.Events {
		if a.Events[i].Name != b.Events[i].Name || !a.Events[i].Time.Equal(b.Events[i].Time) || len(a.Events[i].Attrs) != len(b.Events[i].Attrs) {
			return false
		}
	}
	return true
}
