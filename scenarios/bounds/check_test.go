package bounds

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
)

func parse(t *testing.T, src string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

const header = `name: t
duration: 30s
load:
  - {name: redirect, request: "GET /r/{code}", rate: 10/s}
  - {name: create, request: POST /api/links, rate: 5/s}
  - {name: health, request: GET /healthz, rate: 1/s}
`

// TestCheckWarnsLooseNotTight: under default, redirect answers within 1.01 s (+101 ms
// tolerance) and create within 895 ms (+89.5 ms). A latency ceiling above that is looser
// than the design; one at or below it is not; errors, rates and lower bounds are not
// latencies the design caps; without a design bound the load generator's 5 s timeout caps
// what can be measured.
func TestCheckWarnsLooseNotTight(t *testing.T) {
	sc := parse(t, header+`slos:
  - {load: redirect, thresholds: ["p(99)<2s", "p(99)<1s", "max<=1111ms", "max<=1112ms", "errors<5%", "min>2s", "p(90)_ok<1.2s"]}
  - {load: create, thresholds: ["p(99)<1500ms", "p(99)<984ms", "avg<985ms"]}
  - {load: health, thresholds: ["p(99)<5s", "p(99)<6s"]}
`)
	want := map[string]map[string]string{
		"redirect": {"p(99)<2s": Looser, "p(99)<1s": Within, "max<=1111ms": Within, "max<=1112ms": Looser,
			"errors<5%": NotLatency, "min>2s": NotLatency, "p(90)_ok<1.2s": Looser},
		"create": {"p(99)<1500ms": Looser, "p(99)<984ms": Within, "avg<985ms": Looser},
		"health": {"p(99)<5s": Within, "p(99)<6s": Looser},
	}
	streams := Check(sc, profile(t, "default"))
	for _, s := range streams {
		if len(s.Thresholds) != len(want[s.Name]) {
			t.Errorf("%s: %d thresholds judged, want %d", s.Name, len(s.Thresholds), len(want[s.Name]))
		}
		for _, th := range s.Thresholds {
			if got := th.Status; got != want[s.Name][th.Raw] {
				t.Errorf("%s %s: %s, want %s (limit %s + %s)", s.Name, th.Raw, got, want[s.Name][th.Raw], s.Limit, s.Tolerance)
			}
		}
	}
	w := streams[0].Warnings()
	if len(w) != 3 || w[0] != `slos[0].thresholds[0]: "p(99)<2s" on stream redirect (all) is looser than the design's worst case 1.01s on route redirect (+101ms tolerance): slowness alone cannot fail it` {
		t.Errorf("redirect warnings:\n%s", strings.Join(w, "\n"))
	}
	if th := streams[0].Thresholds[0]; th.Pos != (scenarios.Pos{Line: 8, Col: 35}) {
		t.Errorf("first threshold at %+v, want line 8 col 35", th.Pos)
	}
	if h := streams[2]; h.Route != "" || !strings.Contains(h.LimitBy, "load generator's timeout 5s (no design bound: the request reaches no guarded gateway route)") {
		t.Errorf("health: route %q, limit %s", h.Route, h.LimitBy)
	}
}

// TestCheckUnderNone: profile none bounds nothing, so only the generator's timeout caps
// what a threshold can see.
func TestCheckUnderNone(t *testing.T) {
	sc := parse(t, header+`slos:
  - {load: redirect, thresholds: ["p(99)<2s", "p(99)<10s"]}
`)
	s := Check(sc, profile(t, "none"))[0]
	if s.Limit != 5*time.Second || !strings.Contains(s.LimitBy, "profile none leaves route redirect unbounded") {
		t.Errorf("limit %s by %s", s.Limit, s.LimitBy)
	}
	if s.Thresholds[0].Status != Within || s.Thresholds[1].Status != Looser {
		t.Errorf("statuses %+v", s.Thresholds)
	}
}

// TestEffects: which faults void the design bound, and which hold a callee's answer.
func TestEffects(t *testing.T) {
	cases := []struct {
		name   string
		faults string
		open   string
		held   Held
	}{
		{"network fault on an edge", `{at: 5s, for: 5s, edge: gateway->link, toxic: latency, latency: 2s}`, "",
			Held{"gateway->link": "latency on gateway->link"}},
		{"paused service", `{at: 5s, for: 5s, pause: link}`, "",
			Held{"gateway->link": "pause on link", "redirect->link": "pause on link"}},
		{"crash ends calls", `{at: 5s, crash: link, restart_after: 5s}`, "", Held{}},
		{"restart ends calls", `{at: 5s, restart: redirect}`, "", Held{}},
		{"client edge is before the guards", `{at: 5s, for: 5s, edge: client->gateway, toxic: bandwidth, rate: 20}`,
			"bandwidth on client->gateway acts before the gateway's guards", Held{}},
		{"paused gateway", `{at: 5s, for: 5s, pause: gateway}`, "pause on gateway stops the gateway's own timers", Held{}},
		{"background counts too", `{at: 0s, for: 30s, edge: redirect->redis, toxic: latency, latency: 5ms, background: true}`, "",
			Held{"redirect->redis": "latency on redirect->redis"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := parse(t, header+"faults:\n  - "+c.faults+"\nslos: [{load: create, thresholds: [\"errors<1%\"]}]\n")
			open, held := Effects(sc.Faults)
			if open != c.open || len(held) != len(c.held) {
				t.Fatalf("open %q, held %v; want %q, %v", open, held, c.open, c.held)
			}
			for e, f := range c.held {
				if held[e] != f {
					t.Errorf("held[%s] = %q, want %q", e, held[e], f)
				}
			}
		})
	}
}

// TestOpenFaultLeavesNoDesignBound: with the client edge starved, a 2 s ceiling on redirect
// is no longer looser than anything the design guarantees.
func TestOpenFaultLeavesNoDesignBound(t *testing.T) {
	sc := parse(t, header+`faults:
  - {at: 5s, for: 5s, edge: client->gateway, toxic: bandwidth, rate: 20}
slos:
  - {load: redirect, thresholds: ["p(99)<2s"]}
`)
	s := Check(sc, profile(t, "default"))[0]
	if s.Open == "" || s.Limit != 5*time.Second || s.Thresholds[0].Status != Within {
		t.Errorf("open %q, limit %s, status %s", s.Open, s.Limit, s.Thresholds[0].Status)
	}
}

// TestResults: results.json's view carries the worst case (null when unbounded), the chain
// and the warnings; an unreadable profile is said, not hidden.
func TestResults(t *testing.T) {
	sc := parse(t, header+`slos:
  - {load: create, phases: [all], thresholds: ["p(99)<1500ms"]}
`)
	r := Results(sc, "default")
	if r.Error != "" || len(r.Streams) != 3 || len(r.Warnings) != 1 {
		t.Fatalf("%+v", r)
	}
	c := r.Streams[1]
	if c.Route != "create" || c.WorstMs == nil || *c.WorstMs != 895 || c.LimitMs != 895 || c.ToleranceMs != 89.5 ||
		!strings.HasPrefix(c.Derivation[0], "route create: 895ms = bulkhead wait 10ms") {
		t.Errorf("create: %+v", c)
	}
	if h := r.Streams[2]; h.WorstMs != nil || h.Derivation != nil || h.LimitMs != 5000 {
		t.Errorf("health: %+v", h)
	}
	if r := Results(sc, "none"); r.Streams[0].WorstMs != nil || len(r.Warnings) != 0 {
		t.Errorf("none: %+v", r)
	}
	if r := Results(sc, "nope"); !strings.Contains(r.Error, "profile") || r.Streams != nil {
		t.Errorf("unknown profile: %+v", r)
	}
}
