package traces

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// calls writes n client calls on edge, one every 10 s / n from second `from`, each taking
// durMs; every k-th one (k > 0) fails.
func (g *gen) calls(edge string, from float64, n int, durMs float64, failEvery int) {
	caller, callee, _ := strings.Cut(edge, "->")
	for i := range n {
		start := g.at(from + float64(i)*10/float64(n))
		failed := failEvery > 0 && i%failEvery == 0
		code := "200"
		if failed {
			code = "503"
		}
		g.add(g.newTrace(), g.newSpan(), SpanID{}, caller, "GET", KindClient, start,
			start.Add(time.Duration(durMs*float64(time.Millisecond))), failed,
			kv(AttrPeerService, callee, AttrEdge, edge, AttrStatusCode, code))
	}
}

// TestLanding: a fault lands when its calls show it beyond what they showed before any
// fault; otherwise the run tested nothing (the toxicity < 1 fault that never touched a pooled
// connection, the fault on an edge nobody calls).
func TestLanding(t *testing.T) {
	phases := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 10}, {Name: reports.PhaseFault, StartS: 10, EndS: 20}, {Name: reports.PhaseRecovery, StartS: 20, EndS: 30}}
	fault := func(name, target string, params map[string]string) reports.FaultEvent {
		return reports.FaultEvent{Fault: name, Target: target, Params: params, AppliedAt: 10, HealedAt: 20}
	}
	latency := fault("latency", "link->link-db", map[string]string{"latency": "400ms"})
	cases := []landingCase{
		{"latency on every call", latency, func(g *gen) {
			g.calls("link->link-db", 0, 100, 2, 0)
			g.calls("link->link-db", 10, 100, 402, 0)
		}, Landed},
		{"latency cut by the caller's timeout", latency, func(g *gen) {
			g.calls("link->link-db", 0, 100, 2, 0)
			g.calls("link->link-db", 10, 100, 200, 1)
		}, Landed},
		{"latency that touched no call", latency, func(g *gen) {
			g.calls("link->link-db", 0, 100, 2, 0)
			g.calls("link->link-db", 10, 100, 2, 0)
		}, NotLanded},
		{"latency on a few calls only (toxicity < 1 on a pool)", latency, func(g *gen) {
			g.calls("link->link-db", 0, 100, 2, 0)
			g.calls("link->link-db", 10, 90, 2, 0)
			g.calls("link->link-db", 10, 10, 402, 0)
		}, NotLanded},
		{"a share of errors as asked", fault("http_error", "gateway->link", map[string]string{"share": "0.1", "status": "503"}), func(g *gen) {
			g.calls("gateway->link", 0, 200, 2, 0)
			g.calls("gateway->link", 10, 200, 2, 10)
		}, Landed},
		{"an exact share fault that fell short", fault("http_error", "gateway->link", map[string]string{"share": "0.2", "status": "503"}), func(g *gen) {
			g.calls("gateway->link", 0, 1000, 2, 0)
			g.calls("gateway->link", 10, 1000, 2, 10)
		}, NotLanded},
		{"errors no more than before", fault("http_error", "gateway->link", map[string]string{"share": "0.1", "status": "503"}), func(g *gen) {
			g.calls("gateway->link", 0, 200, 2, 10)
			g.calls("gateway->link", 10, 200, 2, 10)
		}, NotLanded},
		{"a path filter: one error is the evidence", fault("http_error", "gateway->link", map[string]string{"share": "0.5", "path": "/api/links"}), func(g *gen) {
			g.calls("gateway->link", 0, 200, 2, 0)
			g.calls("gateway->link", 10, 200, 2, 100)
		}, Landed},
		{"a fault on an edge nobody calls", fault("partition", "analytics->analytics-db", nil), func(g *gen) {
			g.calls("link->link-db", 0, 300, 2, 0)
		}, NotLanded},
		{"the calls stopped while it lasted", fault("partition", "link->link-db", nil), func(g *gen) {
			g.calls("link->link-db", 0, 100, 2, 0)
			g.calls("link->link-db", 20.5, 100, 2, 0)
		}, Landed},
		{"one stray call before, none in the window: no evidence", fault("latency", "gateway->analytics", map[string]string{"latency": "500ms"}), func(g *gen) {
			g.calls("gateway->analytics", 0, 1, 2, 0)
			g.calls("link->link-db", 0, 300, 2, 0)
		}, NotLanded},
		{"a crash: the calls into it fail", fault("crash", "link-db", nil), func(g *gen) {
			g.calls("link->link-db", 0, 100, 2, 0)
			g.calls("link->link-db", 10, 100, 2, 1)
		}, Landed},
		{"a crash nobody noticed", fault("crash", "link-db", nil), func(g *gen) {
			g.calls("link->link-db", 0, 100, 2, 0)
			g.calls("link->link-db", 10, 100, 2, 0)
		}, NotLanded},
		{"a consumer nobody calls goes quiet", fault("crash", "analytics", nil), func(g *gen) {
			g.calls("analytics->analytics-db", 0, 100, 2, 0)
			g.calls("analytics->analytics-db", 20.5, 100, 2, 0)
		}, Landed},
		{"a CPU share is not visible per call", fault("cpu", "link", map[string]string{"share": "0.25"}), func(g *gen) {
			g.calls("gateway->link", 0, 100, 2, 0)
		}, Unchecked},
		{"a recovery still failing is no reference", latency, func(g *gen) {
			g.calls("link->link-db", 0, 100, 2, 0)
			g.calls("link->link-db", 10, 100, 402, 0)
			g.calls("link->link-db", 20, 100, 402, 1)
		}, Landed},
	}
	checkLandings(t, phases, cases)
}

// landingCase is one fault over spans build writes, and the landing status it must get.
type landingCase struct {
	name  string
	fault reports.FaultEvent
	build func(g *gen)
	want  string
}

func checkLandings(t *testing.T, phases []reports.PhaseWindow, cases []landingCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGen()
			tc.build(g)
			got := Analyze(g.spans, phases, fixtureStart).Landings([]reports.FaultEvent{tc.fault}, nil)
			if got[0].Status != tc.want {
				t.Fatalf("landing %s, want %s: %s", got[0].Status, tc.want, got[0].Evidence)
			}
			if got[0].Evidence == "" {
				t.Fatal("no evidence")
			}
			t.Log(got[0].Evidence)
		})
	}
}

// TestLandingOnTheClientEdge: client->gateway's network is seen only by the load generator:
// a starved link moves its requests' latencies, which the gateway's own spans never show.
func TestLandingOnTheClientEdge(t *testing.T) {
	phases := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 10}, {Name: reports.PhaseFault, StartS: 10, EndS: 20}}
	f := reports.FaultEvent{Fault: "bandwidth", Target: "client->gateway", Params: map[string]string{"rate": "20"}, AppliedAt: 10, HealedAt: 20}
	samples := func(extraMs float64) []reports.Sample {
		var out []reports.Sample
		for i := range 400 {
			at := time.Duration(i) * 50 * time.Millisecond
			ms := 3 + float64(i%5)
			if at >= 10*time.Second {
				ms += extraMs
			}
			out = append(out, reports.Sample{Stream: "redirect", At: at, Latency: time.Duration(ms * float64(time.Millisecond)), Code: 302})
		}
		return out
	}
	g := newGen()
	g.calls("gateway->redirect", 0, 200, 2, 0) // the gateway's side: unchanged either way
	g.calls("gateway->redirect", 10, 200, 2, 0)
	a := Analyze(g.spans, phases, fixtureStart)
	if got := a.Landings([]reports.FaultEvent{f}, samples(8))[0]; got.Status != Landed {
		t.Fatalf("starved client link: %s: %s", got.Status, got.Evidence)
	}
	if got := a.Landings([]reports.FaultEvent{f}, samples(0))[0]; got.Status != NotLanded {
		t.Fatalf("client link unchanged: %s: %s", got.Status, got.Evidence)
	}
}

// messages writes n clicks redirect publishes from second `from` (one every 10 s / n), each
// delivered to analytics delayMs after its publish, where the publish happened at or before
// deliverBy (the heal that released a partitioned consumer) or else at once.
func (g *gen) messages(from float64, n int, delayMs float64, heldUntil float64) {
	for i := range n {
		at := from + float64(i)*10/float64(n)
		pub := g.at(at)
		tr, p := g.newTrace(), g.newSpan()
		g.add(tr, p, SpanID{}, "redirect", "publish clicks", KindClient, pub, pub.Add(time.Millisecond), false,
			kv(AttrPeerService, "nats", AttrEdge, "redirect->nats"))
		got := pub.Add(time.Duration(delayMs * float64(time.Millisecond)))
		if heldUntil > at {
			got = g.at(heldUntil).Add(time.Duration(delayMs * float64(time.Millisecond)))
		}
		g.add(tr, g.newSpan(), p, "analytics", "process clicks", KindConsumer, got, got.Add(2*time.Millisecond), false, nil)
	}
}

// TestLandingOnAConsumersEdge: a consumer's edge to NATS carries deliveries, not calls the
// consumer's spans record; a fault on it lands when the messages published while it lasted
// reach the consumer late (after the heal, for a partition), and not when they come on time.
func TestLandingOnAConsumersEdge(t *testing.T) {
	phases := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 10}, {Name: reports.PhaseFault, StartS: 10, EndS: 20}, {Name: reports.PhaseRecovery, StartS: 20, EndS: 30}}
	fault := func(name string, params map[string]string) reports.FaultEvent {
		return reports.FaultEvent{Fault: name, Target: "analytics->nats", Params: params, AppliedAt: 10, HealedAt: 20}
	}
	cases := []landingCase{
		{"a partition: the window's messages come after the heal", fault("timeout", map[string]string{"timeout": "0s"}), func(g *gen) {
			g.messages(0, 100, 3, 0)
			g.messages(10, 100, 3, 20)
			g.messages(20, 100, 3, 0)
		}, Landed},
		{"latency: every delivery later by it", fault("latency", map[string]string{"latency": "400ms"}), func(g *gen) {
			g.messages(0, 100, 3, 0)
			g.messages(10, 100, 405, 0)
		}, Landed},
		{"a partition that delivered on time (it missed the consumer)", fault("timeout", map[string]string{"timeout": "0s"}), func(g *gen) {
			g.messages(0, 100, 3, 0)
			g.messages(10, 100, 3, 0)
		}, NotLanded},
		{"latency that delayed nothing", fault("latency", map[string]string{"latency": "400ms"}), func(g *gen) {
			g.messages(0, 100, 3, 0)
			g.messages(10, 100, 3, 0)
		}, NotLanded},
	}
	checkLandings(t, phases, cases)
}
