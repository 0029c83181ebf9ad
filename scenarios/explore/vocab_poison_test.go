package explore

import (
	"slices"
	"testing"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// http-poison is tried exactly on the HTTP edges whose caller retries in the profile: a
// retry storm is what it tests, so an edge without retries (gateway->link: creations are not
// idempotent), a non-HTTP edge (nothing to pick by path) and a profile without retries
// (none) get none.
func TestVocabularyHasPoisonOnRetryingHTTPEdges(t *testing.T) {
	for _, name := range []string{"default", "adaptive", "none"} {
		p := profile(t, name)
		for _, e := range topology.Edges() {
			fs, err := Faults(p, e.Name)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Edge(e.Name).Retry
			want := e.Protocol == topology.HTTP && r != nil && r.MaxRetries > 0
			if got := slices.ContainsFunc(fs, func(f Fault) bool { return f.Class == ClassHTTPPoison }); got != want {
				t.Errorf("%s: http-poison on %s (%s, retry %+v) = %v, want %v", name, e.Name, e.Protocol, r, got, want)
			}
		}
	}
	// the ones the power check relies on: adaptive's redirect->link retries, gateway->link does not
	a := profile(t, "adaptive")
	for target, want := range map[string]bool{"redirect->link": true, "gateway->link": false, "redirect->redis": false} {
		fs, _ := Faults(a, target)
		if got := slices.ContainsFunc(fs, func(f Fault) bool { return f.Class == ClassHTTPPoison }); got != want {
			t.Errorf("adaptive: http-poison on %s = %v, want %v", target, got, want)
		}
	}
}

// Its parameters are retry-budget.yaml's: 1.5 × the caller's timeout, 4 % of the keys, by
// path, seed 7; and the generated scenario carries by_path to the fault the runner builds
// (without it the share would pick requests by order and let retries through).
func TestPoisonParamsReachTheScenario(t *testing.T) {
	fs, err := Faults(profile(t, "adaptive"), "redirect->link")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(fs, func(f Fault) bool { return f.Class == ClassHTTPPoison })
	if i < 0 {
		t.Fatal("no http-poison on redirect->link under adaptive")
	}
	f := fs[i]
	if got, want := f.ParamText(), "by_path=true latency=300ms seed=7 share=0.04"; f.Type != "http_latency" || got != want {
		t.Errorf("http-poison: %s %q, want http_latency %q", f.Type, got, want)
	}
	if want := "4 % of the keys held, every request of one and its retries too (the caller retries up to 2 times): 1.5 × the caller's timeout 200ms"; f.Why != want {
		t.Errorf("why %q, want %q", f.Why, want)
	}
	y, err := DefaultBase().Experiment(Experiment{ID: "http-poison@redirect->link", Faults: []Fault{f}, Streams: []string{"redirect"}}, "adaptive")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Parse("x.yaml", y)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if len(sc.Faults) != 1 {
		t.Fatalf("faults %+v, want the poison alone\n%s", sc.Faults, y)
	}
	built, err := sc.Faults[0].Build()
	if err != nil {
		t.Fatal(err)
	}
	hl, ok := built.(*toxics.HTTPLatency)
	if !ok || !hl.ByPath || hl.Share == nil || *hl.Share != PoisonShare || hl.Seed == nil || *hl.Seed != PoisonSeed {
		t.Errorf("the scenario's fault %+v (%T), want http_latency by path, share %v, seed %d\n%s", built, built, PoisonShare, PoisonSeed, y)
	}
}
