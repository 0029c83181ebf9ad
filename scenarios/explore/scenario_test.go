package explore

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/scenarios"
)

// Every experiment of the full plan (singles and pairs) is a scenario the catalogue's parser
// accepts, with the fault phase where the explorer says.
func TestEveryExperimentIsAValidScenario(t *testing.T) {
	b := DefaultBase()
	pl := staticPlan(t, Options{Seed: 1, Pairs: true})
	names := map[string]string{}
	for _, e := range pl.Experiments() {
		y, err := b.Experiment(e, "default")
		if err != nil {
			t.Fatalf("%s: %v", e.ID, err)
		}
		sc, err := scenarios.Parse("x.yaml", y)
		if err != nil {
			t.Fatalf("%s: %v\n%s", e.ID, err, y)
		}
		ph := b.PhasesFor(e.Faults)
		injected := 0
		for _, f := range e.Faults {
			if !IsSurge(f) {
				injected++
			}
		}
		if len(sc.Faults) != injected || sc.Duration.D() != ph.Total() {
			t.Fatalf("%s: faults %+v", e.ID, sc.Faults)
		}
		surged := slices.ContainsFunc(e.Faults, IsSurge)
		for _, f := range sc.Faults {
			if surged && f.Background {
				// a surge's mild latency is the environment: there for the whole run
				if f.Start() != 0 || f.End() != ph.Total() {
					t.Fatalf("%s: background fault %+v not over the whole run", e.ID, f)
				}
				continue
			}
			if f.Start() != ph.Baseline || f.End() != ph.Baseline+ph.Fault {
				t.Fatalf("%s: fault %+v outside the fault phase", e.ID, f)
			}
		}
		// a surge is its stream's stages: the base rate, SurgeFactor × it in the fault phase, back
		for _, st := range sc.Load {
			_, surged := surgeOf(e.Faults, st.Name)
			if surged != (len(st.Surges(sc.Duration.D())) > 0) {
				t.Fatalf("%s: stream %s surged %v, stages %+v", e.ID, st.Name, surged, st.Stages)
			}
			if surged {
				if w := st.Surges(sc.Duration.D()); len(w) != 1 || w[0] != [2]time.Duration{ph.Baseline, ph.Baseline + ph.Fault} ||
					st.Stages[1].Rate != SurgeFactor*st.Stages[0].Rate {
					t.Fatalf("%s: surge of %s %+v, want the fault phase at %d ×", e.ID, st.Name, st.Stages, SurgeFactor)
				}
			}
		}
		if prev, dup := names[sc.Name]; dup {
			t.Fatalf("%s and %s share the scenario name %s", prev, e.ID, sc.Name)
		}
		names[sc.Name] = e.ID
	}
}

// Phases last as long as the checks need at the base's rates: a phase brings every stream
// PhaseMargin × its thresholds' MinSamples requests, rounded up to PhaseStep, never under
// the floors; a slower load gets longer phases, never checks on too few requests.
func TestPhases(t *testing.T) {
	base := func(rate string, th ...string) Base {
		y := "name: p\nduration: 10s\nload:\n  - {name: a, request: \"GET /r/{code}\", rate: " + rate + "}\n" +
			"  - {name: b, request: \"GET /r/{code}\", rate: 1000/s}\nslos:\n  - {load: a, thresholds: [" + strings.Join(th, ", ") + "]}\n" +
			"  - {load: b, thresholds: [\"p(99.9)<1s\"]}\n"
		sc, err := scenarios.Parse("p.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		b, err := BaseFrom(sc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name string
		b    Base
		want Phases
	}{
		// 1.25 × 100 / 100 = 1.25 s → 1.5 s; fault and recovery at their 2 s floors, the
		// baseline 0.4 × 1.25 s = 0.5 s → its 1 s floor
		{"p99 at 100/s", base("100/s", `"p(99)<200ms"`), Phases{time.Second, 2 * time.Second, 2 * time.Second}},
		// 1.25 × 100 / 5 = 25 s for the fault and the recovery, 10 s of baseline
		{"errors<1% at 5/s", base("5/s", `"errors<1%"`), Phases{10 * time.Second, 25 * time.Second, 25 * time.Second}},
		// stream b: 1.25 × 1000 / 1000 = 1.25 s → 1.5 s beats a's 1.25 × 20 / 400 = 62.5 ms
		{"the neediest stream sets it", base("400/s", `"p(95)<1s"`), Phases{time.Second, 2 * time.Second, 2 * time.Second}},
		// 1.25 × 100 / 40 = 3.125 s → 3.5 s; 0.4 × 3.125 s = 1.25 s → 1.5 s
		{"rounded up", base("40/s", `"p(99)<1s"`, `"errors<5%"`), Phases{1500 * time.Millisecond, 3500 * time.Millisecond, 3500 * time.Millisecond}},
	} {
		if got := c.b.Phases(); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	// a latency fault lasts twice its latency: 3 s (no timeout on the edge) → a 6 s fault phase;
	// a short one keeps the built-in load's 2.5 s (creations at 50/s: 1.25 × 100 / 50 = 2.5 s)
	slow := Fault{Class: ClassBeyond, Type: "latency", Target: "link->billing", Params: map[string]any{"latency": "3s"}}
	short := Fault{Class: ClassBeyond, Type: "latency", Target: "link->billing", Params: map[string]any{"latency": "225ms"}}
	crash := Fault{Class: ClassCrash, Type: "crash", Target: "link"}
	b := DefaultBase()
	for _, c := range []struct {
		faults []Fault
		fault  time.Duration
	}{{[]Fault{slow}, 6 * time.Second}, {[]Fault{short}, 2500 * time.Millisecond}, {[]Fault{crash, slow}, 6 * time.Second}, {[]Fault{crash}, 2500 * time.Millisecond}} {
		if got := b.PhasesFor(c.faults); got.Fault != c.fault || got.Baseline != b.Phases().Baseline || got.Recovery != b.Phases().Recovery {
			t.Errorf("PhasesFor(%v) = %+v, want a %s fault phase", c.faults, got, c.fault)
		}
	}
	// poisoned keys: a fault phase of PoisonMinFault, the rest as the base's
	poison := Fault{Class: ClassHTTPPoison, Type: "http_latency", Target: "redirect->link", Params: map[string]any{"latency": "300ms", "share": PoisonShare, "by_path": true}}
	if got := b.PhasesFor([]Fault{poison, crash}); got.Fault != PoisonMinFault || got.Baseline != b.Phases().Baseline || got.Recovery != b.Phases().Recovery {
		t.Errorf("PhasesFor(%v) = %+v, want a %s fault phase", poison, got, PoisonMinFault)
	}
	if got := DefaultBase().Phases(); got.Total() != 6*time.Second {
		t.Errorf("the built-in load's phases %+v: steady.yaml and docs/explore.md say 1 s + 2.5 s + 2.5 s", got)
	}
}

func TestBaseFrom(t *testing.T) {
	sc, err := scenarios.ParseFile(filepath.Join("..", "smoke.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := BaseFrom(sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Load) != 2 || len(b.SLOs) != 3 || b.Links != 40 {
		t.Fatalf("base %+v", b)
	}
	ramp, err := scenarios.Parse("r.yaml", []byte("name: r\nduration: 10s\nload:\n  - {name: a, request: \"GET /r/{code}\", ramp: {from: 1/s, to: 10/s, over: 5s}}\nslos:\n  - {load: a, thresholds: [\"errors<1%\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BaseFrom(ramp); err == nil || !strings.Contains(err.Error(), "constant rate") {
		t.Fatalf("a ramp was accepted: %v", err)
	}
}

// The weak-spot file is a catalogue scenario: it validates from disk (as faultline validate
// reads it), states the design's expectations, not the failure, and carries the evidence.
func TestWeakSpotScenario(t *testing.T) {
	b := DefaultBase()
	fs, _ := Faults(profile(t, "default"), "link->link-db")
	o := rexplore.Outcome{ID: fs[0].ID(), Faults: fs[:1], Affected: []string{"gateway", "link"}, Dir: "runs/x/experiments/001",
		Streams: map[string]rexplore.StreamOutcome{"create": {Class: rexplore.Broken, Impact: 1, Failed: []string{"fault errors<1%: 100.0%"}},
			"redirect": {Class: rexplore.Held}, "stats": {Class: rexplore.Held}}}
	y, err := b.WeakSpot(o, profile(t, "default"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), WeakSpotName(o.ID)+".yaml")
	if err := os.WriteFile(path, y, 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.ParseFile(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if sc.Expect.Verdict != "pass" {
		t.Errorf("expects %q: a weak spot's scenario states what the design guarantees", sc.Expect.Verdict)
	}
	for _, want := range []string{"create broken", "fault errors<1%: 100.0%", "affected (blast radius from traces): gateway, link",
		"the longest answer the design allows", "latency: 750ms"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("the file lacks %q:\n%s", want, y)
		}
	}
	golden(t, "weak-spot.yaml", y)
}

func TestReduceCoveredPairs(t *testing.T) {
	mk := func(id string, streams ...string) Experiment {
		parts := strings.Split(id, "+")
		var fs []Fault
		for _, p := range parts {
			c, tg, _ := strings.Cut(p, "@")
			fs = append(fs, Fault{Class: c, Target: tg})
		}
		return Experiment{ID: id, Faults: fs, Streams: streams}
	}
	singles := []rexplore.Outcome{
		{ID: "partition@link->link-db", Streams: map[string]rexplore.StreamOutcome{"create": {Class: rexplore.Broken}, "redirect": {Class: rexplore.Held}}},
		{ID: "latency-gray@link->billing", Streams: map[string]rexplore.StreamOutcome{"create": {Class: rexplore.Slowed}}},
		{ID: "crash@redis", Streams: map[string]rexplore.StreamOutcome{"redirect": {Class: rexplore.Unproven}}},
	}
	pairs := []Experiment{
		mk("partition@link->link-db+latency-gray@link->billing", "create"),    // covered
		mk("partition@link->link-db+pause@redis", "create", "redirect"),       // redirect left
		mk("latency-gray@link->billing+latency-gray@gateway->link", "create"), // a slowdown covers nothing
		mk("crash@redis+latency-gray@redirect->link", "redirect"),             // unproven covers nothing
	}
	r := Reduce(pairs, singles)
	if strings.Join(r.Pruned, ",") != "partition@link->link-db+latency-gray@link->billing" {
		t.Fatalf("pruned %v", r.Pruned)
	}
	if len(r.Keep) != 3 || strings.Join(r.Keep[0].Streams, ",") != "redirect" {
		t.Fatalf("kept %+v", r.Keep)
	}
}

// A retry storm's weak spot expects what the design promises, retries spaced by backoff:
// fewer retries per call on the edge than a storm makes, judged by the runner's mechanism
// check.
func TestWeakSpotScenarioRetryStorm(t *testing.T) {
	fs, _ := Faults(profile(t, "no-backoff"), "link->billing")
	o := rexplore.Outcome{ID: fs[0].ID(), Faults: fs[:1],
		Streams: map[string]rexplore.StreamOutcome{"create": {Class: rexplore.Held}, "redirect": {Class: rexplore.Held}, "stats": {Class: rexplore.Held}},
		Storms:  []rexplore.RetryStorm{{Edge: "link->billing", MaxRetries: 4, MedianGapMs: 0.31}}}
	y, err := DefaultBase().WeakSpot(o, profile(t, "no-backoff"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Parse("weak.yaml", y)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if got := sc.Expect.Mechanisms.MaxRetriesPerRequest["link->billing"]; got != float64(rexplore.StormRetries-1) {
		t.Errorf("expects at most %g retries per call on link->billing, want %d:\n%s", got, rexplore.StormRetries-1, y)
	}
	for _, want := range []string{"a retry storm on link->billing", "retry storm (traces): link->billing: 4 retries in one call, 0.31 ms median"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("the file lacks %q:\n%s", want, y)
		}
	}
}

// TestWeakSpotScenarioDataLate: a data weak spot's scenario expects analytics caught up within
// the explorer's own wait; without it the catalogue's 30 s wait would let a system that counts
// half a minute late pass the scenario written for that very weak spot. Others do not expect it.
func TestWeakSpotScenarioDataLate(t *testing.T) {
	fs, _ := Faults(profile(t, "default"), "analytics->nats")
	o := rexplore.Outcome{ID: fs[0].ID(), Faults: fs[:1], Data: map[string]int{"missing_clicks": 134, "lost_link_events": 125},
		Streams: map[string]rexplore.StreamOutcome{"create": {Class: rexplore.DataLost}, "redirect": {Class: rexplore.DataLost}, "stats": {Class: rexplore.Held}}}
	y, err := DefaultBase().WeakSpot(o, profile(t, "default"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Parse("weak.yaml", y)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if got := sc.Expect.Data.CaughtUpWithin; got != WeakSpotCaughtUp {
		t.Errorf("expects caught_up_within %s, want %s:\n%s", got, WeakSpotCaughtUp, y)
	}
	o.Data = nil
	y, err = DefaultBase().WeakSpot(o, profile(t, "default"))
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := scenarios.Parse("weak.yaml", y); err != nil || sc.Expect.Data.CaughtUpWithin != 0 {
		t.Errorf("a weak spot without data missing: caught_up_within %v (%v), want none", sc.Expect.Data.CaughtUpWithin, err)
	}
}
