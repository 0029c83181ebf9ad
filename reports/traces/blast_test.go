package traces

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

func TestServiceMapFixture(t *testing.T) {
	spans := loadFixture(t)
	m := ServiceMap(spans, fixturePhases, fixtureStart)
	var got []string
	byName := map[string]reports.MapEdge{}
	for _, e := range m {
		got = append(got, e.From+"->"+e.To)
		byName[e.From+"->"+e.To] = e
	}
	want := []string{"analytics->analytics-db", "client->gateway", "gateway->analytics", "gateway->link",
		"gateway->redirect", "link->billing", "link->link-db", "redirect->link", "redirect->nats", "redirect->redis"}
	if !slices.Equal(got, want) {
		t.Fatalf("edges:\ngot  %v\nwant %v", got, want)
	}
	calls := func(edge, phase string) int {
		for _, f := range byName[edge].Phases {
			if f.Phase == phase {
				return f.Calls
			}
		}
		return -1
	}
	for _, c := range []struct {
		edge, phase string
		want        int
	}{
		{"client->gateway", "baseline", 500 + 60 + 30}, // every gateway root span
		{"redirect->link", "baseline", 20},             // one attempt per miss
		{"redirect->link", "fault", 6},                 // 3 attempts, then only half-open trials
		{"gateway->link", "fault", 60},
	} {
		if got := calls(c.edge, c.phase); got != c.want {
			t.Errorf("%s %s calls = %d, want %d", c.edge, c.phase, got, c.want)
		}
	}
	if f := byName["link->link-db"].Phases[1]; f.P99Ms < 350 || f.P50Ms < 350 {
		t.Errorf("link->link-db fault phase p50/p99 = %v/%v ms, want ≥ 350 (the injected latency)", f.P50Ms, f.P99Ms)
	}
}

func TestServiceMapCrossServiceLinks(t *testing.T) {
	g := newGen()
	tr := g.newTrace()
	root, cl, srv, in, cons := g.newSpan(), g.newSpan(), g.newSpan(), g.newSpan(), g.newSpan()
	at := g.at(1)
	// a client span without peer.service: the callee comes from its child server span
	g.add(tr, root, SpanID{}, "a", "GET /a", KindServer, at, at.Add(5e6), false, nil)
	g.add(tr, cl, root, "a", "GET", KindClient, at, at.Add(4e6), false, nil)
	g.add(tr, srv, cl, "b", "GET /b", KindServer, at, at.Add(3e6), false, nil)
	// an internal span whose child runs in another service (no client span between)
	g.add(tr, in, srv, "b", "work", KindInternal, at, at.Add(1e6), false, nil)
	g.add(tr, cons, in, "c", "consume", KindConsumer, at, at.Add(1e6), false, nil)
	g.add(tr, g.newSpan(), cons, "d", "GET /d", KindServer, at, at.Add(1e6), false, nil)
	// outside every phase window: ignored
	g.add(g.newTrace(), g.newSpan(), SpanID{}, "gateway", "GET /r/{code}", KindServer, g.at(99), g.at(99.1), false, nil)
	m := ServiceMap(g.spans, twoPhases, fixtureStart)
	var got []string
	for _, e := range m {
		got = append(got, e.From+"->"+e.To)
	}
	want := []string{"a->b", "c->d"}
	if !slices.Equal(got, want) {
		t.Fatalf("edges = %v, want %v (b->c is consumer-only: no server span)", got, want)
	}
}

func TestBlastRadiusFixture(t *testing.T) {
	spans := loadFixture(t)
	br := BlastRadius(spans, fixturePhases, fixtureStart, []string{"link->link-db"}, reports.BlastThresholds{},
		map[string]float64{"redirect": 0.002})
	if want := []string{"gateway", "link", "link-db"}; !slices.Equal(br.AffectedServices, want) {
		t.Errorf("affected services = %v, want %v", br.AffectedServices, want)
	}
	if want := []string{"client->gateway", "gateway->link", "link->link-db"}; !slices.Equal(br.AffectedEdges, want) {
		t.Errorf("affected edges = %v, want %v", br.AffectedEdges, want)
	}
	if br.Thresholds != (reports.BlastThresholds{ErrorRateDelta: 0.05, LatencyFactor: 2, LatencyMinMs: 50,
		AbsErrorRate: 0.05, AbsLatencyMs: 250, MinBaselineCalls: 20, MinFaultCalls: 10}) {
		t.Errorf("thresholds = %+v, want the defaults", br.Thresholds)
	}
	want := []reports.PropagationPath{
		{Path: []string{"link-db", "link", "gateway"}, Reached: true},
		{Path: []string{"link-db", "link", "redirect"}, StoppedAt: "redirect", StoppedBy: StopBreaker},
	}
	if len(br.Propagation) != len(want) {
		t.Fatalf("propagation = %+v, want %+v", br.Propagation, want)
	}
	for i := range want {
		g, w := br.Propagation[i], want[i]
		if !slices.Equal(g.Path, w.Path) || g.StoppedAt != w.StoppedAt || g.StoppedBy != w.StoppedBy || g.Reached != w.Reached {
			t.Errorf("path %d = %+v, want %+v", i, g, w)
		}
	}
	si, _ := ImpactOf(br, "redirect->link")
	if si.Affected || !si.Unproven || !strings.HasPrefix(si.Why, Unproven) {
		t.Errorf("redirect->link = %+v, want unproven (6 fault-phase attempts)", si)
	}
	if br.UserImpact["redirect"] != 0.002 {
		t.Errorf("user impact not carried: %v", br.UserImpact)
	}
}

func TestJudgeSeries(t *testing.T) {
	th := WithDefaults(reports.BlastThresholds{})
	for _, c := range []struct {
		name                         string
		n, nFault                    int
		base, fault                  shape
		affected, unproven, absolute bool
	}{
		{"steady", 40, 0, shape{callerMs: 5}, shape{callerMs: 6}, false, false, false},
		{"slow", 40, 0, shape{callerMs: 5}, shape{callerMs: 80}, true, false, false},
		{"twice but under the minimum rise", 40, 0, shape{callerMs: 5}, shape{callerMs: 20}, false, false, false},
		{"errors", 40, 0, shape{callerMs: 5}, shape{callerMs: 5, callerErr: true}, true, false, false},
		{"too few calls", 9, 0, shape{callerMs: 5}, shape{callerMs: 500, callerErr: true}, false, true, false},
		{"too few fault calls", 40, 9, shape{callerMs: 5}, shape{callerMs: 500, callerErr: true}, false, true, false},
		{"few fault calls, slow: p50", 40, 12, shape{callerMs: 5}, shape{callerMs: 300}, true, false, false},
		{"few fault calls, steady", 40, 12, shape{callerMs: 5}, shape{callerMs: 6}, false, false, false},
		// A short baseline is no reason to call a failing fault phase unaffected: it is judged
		// on the absolute bounds (5% errors, 250 ms).
		{"short baseline, every fault call fails", 5, 40, shape{callerMs: 5}, shape{callerMs: 5, callerErr: true}, true, false, true},
		{"short baseline, few fault calls all failing", 5, 12, shape{callerMs: 5}, shape{callerMs: 5, callerErr: true}, true, false, true},
		{"short baseline, slow fault", 5, 40, shape{callerMs: 5}, shape{callerMs: 300}, true, false, true},
		{"short baseline, healthy fault", 5, 40, shape{callerMs: 5}, shape{callerMs: 30}, false, false, true},
		{"short baseline, too few fault calls", 5, 5, shape{callerMs: 5}, shape{callerMs: 5, callerErr: true}, false, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGen()
			hop{caller: "a", callee: "b", n: c.n, nFault: c.nFault, base: c.base, fault: c.fault}.build(g)
			ix := buildIndex(g.spans, twoPhases, fixtureStart)
			v := judgeSeries(ix.svc["a"], th)
			if v.affected != c.affected || v.unproven != c.unproven || v.absolute != c.absolute {
				t.Errorf("got affected=%v unproven=%v absolute=%v (%s), want %v/%v/%v",
					v.affected, v.unproven, v.absolute, v.why, c.affected, c.unproven, c.absolute)
			}
		})
	}
}

// TestShortBaselineNeverUnaffected: a service that served 5 calls in the baseline and fails
// every call of the fault phase is affected (or, with too few fault calls, unproven), never
// "not affected", and containment without it fails (TestJudgeShortBaseline, judge_test.go). Before, a baseline under 20 calls made it
// "insufficient data: not affected", which containment ignored: a silent pass.
func TestShortBaselineNeverUnaffected(t *testing.T) {
	for _, c := range []struct {
		name     string
		nFault   int
		affected bool // else unproven
	}{
		{"enough fault calls", 40, true},
		{"too few fault calls", 5, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			br := QuietCallerRadius(c.nFault)
			si, ok := ImpactOf(br, "c")
			if !ok {
				t.Fatalf("no verdict on c: %+v", br.Services)
			}
			if si.Affected != c.affected || si.Unproven == c.affected {
				t.Errorf("c = %+v, want affected %v, unproven %v", si, c.affected, !c.affected)
			}
			if slices.Contains(br.AffectedServices, "c") != c.affected || slices.Contains(br.UnprovenServices, "c") == c.affected {
				t.Errorf("affected %v, unproven %v: c misfiled", br.AffectedServices, br.UnprovenServices)
			}
		})
	}
}

func TestThresholdsConfigurable(t *testing.T) {
	g := newGen()
	hop{caller: "a", callee: "b", n: 40, base: shape{callerMs: 5, calleeMs: 1}, fault: shape{callerMs: 12, calleeMs: 1}}.build(g)
	loose := BlastRadius(g.spans, twoPhases, fixtureStart, []string{"b"}, reports.BlastThresholds{}, nil)
	strict := BlastRadius(g.spans, twoPhases, fixtureStart, []string{"b"}, reports.BlastThresholds{LatencyFactor: 2, LatencyMinMs: 5}, nil)
	if slices.Contains(loose.AffectedServices, "a") {
		t.Errorf("5→12 ms flagged with the default 20 ms minimum rise")
	}
	if !slices.Contains(strict.AffectedServices, "a") {
		t.Errorf("5→12 ms not flagged with a 5 ms minimum rise: %+v", strict.Services)
	}
}

func TestStopReasons(t *testing.T) {
	for _, c := range []struct {
		name  string
		fault shape
		want  string
	}{
		{"breaker rejected", shape{callerMs: 5, calleeMs: 300, clientAttrs: kv(AttrBreakerRejected, "true")}, StopBreaker},
		{"breaker open state", shape{callerMs: 5, calleeMs: 300, clientAttrs: kv(AttrBreakerState, "open")}, StopBreaker},
		{"fallback", shape{callerMs: 5, calleeMs: 300, clientAttrs: kv(AttrFallback, "fail_open")}, StopFallback},
		{"cache", shape{callerMs: 5, calleeMs: 300, serverAttrs: kv(AttrCacheHit, "true")}, StopCache},
		{"cache misses only", shape{callerMs: 5, calleeMs: 300, serverAttrs: kv(AttrCacheHit, "false")}, StopAbsorbed},
		{"timeout", shape{callerMs: 5, calleeMs: 300, clientAttrs: kv(AttrTimeout, "true")}, StopTimeout},
		{"absorbed", shape{callerMs: 5, calleeMs: 300}, StopAbsorbed},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGen()
			hop{caller: "gateway", callee: "b", n: 30, base: shape{callerMs: 5, calleeMs: 1}, fault: c.fault}.build(g)
			br := BlastRadius(g.spans, twoPhases, fixtureStart, []string{"b"}, reports.BlastThresholds{}, nil)
			if len(br.Propagation) != 1 {
				t.Fatalf("propagation = %+v, want one path", br.Propagation)
			}
			p := br.Propagation[0]
			if p.Reached || p.StoppedAt != "gateway" || p.StoppedBy != c.want || !slices.Equal(p.Path, []string{"b", "gateway"}) {
				t.Errorf("path = %+v, want stopped at gateway by %s", p, c.want)
			}
		})
	}
}

func TestPropagationReachesEntry(t *testing.T) {
	g := newGen()
	hop{caller: "gateway", callee: "b", n: 30, base: shape{callerMs: 5, calleeMs: 1}, fault: shape{callerMs: 5, callerErr: true, calleeMs: 1}}.build(g)
	br := BlastRadius(g.spans, twoPhases, fixtureStart, []string{"gateway->b"}, reports.BlastThresholds{}, nil)
	if len(br.Propagation) != 1 || !br.Propagation[0].Reached || br.Propagation[0].StoppedAt != "" {
		t.Fatalf("propagation = %+v, want one path reaching the entry", br.Propagation)
	}
	if !slices.Contains(br.AffectedEdges, "client->gateway") {
		t.Errorf("client->gateway not affected: %v", br.AffectedEdges)
	}
}

func TestPropagationInsufficientCaller(t *testing.T) {
	g := newGen()
	hop{caller: "gateway", callee: "b", n: 5, base: shape{callerMs: 5, calleeMs: 1}, fault: shape{callerMs: 5, calleeMs: 300}}.build(g)
	br := BlastRadius(g.spans, twoPhases, fixtureStart, []string{"b"}, reports.BlastThresholds{}, nil)
	if len(br.Propagation) != 1 || br.Propagation[0].StoppedBy != StopInsufficient {
		t.Fatalf("propagation = %+v, want stopped by %q", br.Propagation, StopInsufficient)
	}
}

func TestBlastRadiusEmpty(t *testing.T) {
	br := BlastRadius(nil, twoPhases, fixtureStart, []string{"link"}, reports.BlastThresholds{}, nil)
	if len(br.AffectedServices) != 0 || len(br.Propagation) != 1 || br.Propagation[0].StoppedBy != StopNoCallers {
		t.Fatalf("empty spans: %+v", br)
	}
}

// A pipeline's INTERNAL span about an edge, inside the client span of that edge (redirect's
// redis GET wraps the redirect->redis pipeline), must not hide the client span as a call.
func TestInternalPipelineSpanIsNotAnAttempt(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(1, 2))}
	for i := range 40 {
		start := fixtureStart.Add(time.Duration(i) * 500 * time.Millisecond)
		tr := g.newTrace()
		srv, cl, in := g.newSpan(), g.newSpan(), g.newSpan()
		g.add(tr, srv, SpanID{}, "redirect", "GET /r/{code}", KindServer, start, start.Add(2*time.Millisecond), false, kv(AttrStatusCode, "302"))
		g.add(tr, cl, srv, "redirect", "redis GET", KindClient, start, start.Add(time.Millisecond), false, kv(AttrPeerService, "redis", AttrEdge, "redirect->redis", AttrCacheHit, "true"))
		g.add(tr, in, cl, "redirect", "resilience redirect->redis", KindInternal, start, start.Add(time.Millisecond), false, kv(AttrEdge, "redirect->redis"))
	}
	found := false
	for _, e := range ServiceMap(g.spans, twoPhases, fixtureStart) {
		if e.From == "redirect" && e.To == "redis" {
			found = true
			if n := e.Phases[0].Calls + e.Phases[1].Calls; n != 40 {
				t.Errorf("redirect->redis calls = %d, want 40", n)
			}
		}
	}
	if !found {
		t.Fatal("service map lacks redirect->redis")
	}
}

// TestSparseRoute: a route of a busy service with too few fault-phase calls to judge leaves
// the service unproven when those calls show harm, and changes nothing when they were all
// healthy (sporadic cache misses); a low-rate route with enough fault calls but a short
// baseline is judged on the absolute bounds.
func TestSparseRoute(t *testing.T) {
	serve := func(g *gen, route string, phase, n int, ms float64, fail bool) {
		for i := range n {
			start := fixtureStart.Add(time.Duration(phase)*10*time.Second + time.Duration(i)*(10*time.Second/time.Duration(n)))
			code := "200"
			if fail {
				code = "500"
			}
			g.add(g.newTrace(), g.newSpan(), SpanID{}, "link", route, KindServer, start,
				start.Add(time.Duration(ms*float64(time.Millisecond))), fail, kv(AttrStatusCode, code))
		}
	}
	for _, c := range []struct {
		name               string
		base, fault        int
		ms                 float64
		fail               bool
		affected, unproven bool
	}{
		{"sporadic and healthy", 14, 4, 5, false, false, false},
		{"sporadic and failing", 14, 4, 5, true, false, true},
		{"sporadic and slow", 3, 2, 400, false, false, true},
		{"low rate, short baseline, failing", 12, 12, 5, true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGen()
			serve(g, "POST /links", 0, 200, 5, false)
			serve(g, "POST /links", 1, 200, 5, false)
			serve(g, "GET /links/{code}", 0, c.base, c.ms, false)
			serve(g, "GET /links/{code}", 1, c.fault, c.ms, c.fail)
			ix := buildIndex(g.spans, twoPhases, fixtureStart)
			v := ix.judgeService("link", WithDefaults(reports.BlastThresholds{}))
			if v.affected != c.affected || v.unproven != c.unproven {
				t.Errorf("got affected=%v unproven=%v (%s), want %v/%v", v.affected, v.unproven, v.why, c.affected, c.unproven)
			}
		})
	}
}
