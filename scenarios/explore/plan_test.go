package explore

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/system/policy"
)

func profile(t *testing.T, name string) *policy.Profile {
	t.Helper()
	p, err := policy.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVocabularyFromProfile(t *testing.T) {
	p := profile(t, "default")
	cases := []struct {
		target, class, param, want, why string
	}{
		// link->billing: timeout 150ms in default.yaml
		{"link->billing", ClassBeyond, "latency", "225ms", "1.5 × the caller's timeout 150ms"},
		{"link->billing", ClassGray, "latency", "75ms", "0.5 × the caller's timeout 150ms: slow, never cut"},
		{"redirect->redis", ClassBeyond, "latency", "75ms", "1.5 × the caller's timeout 50ms"},
		// NATS edges have no pipeline: the fixed latency is named
		{"link->nats", ClassBeyond, "latency", "3s", "no timeout on this edge in profile default: a fixed 3s"},
		{"link->nats", ClassBandwidth, "rate", "1", "1 KB/s left"},
		{"gateway->link", ClassReset, "timeout", "0s", "every connection reset at once"},
	}
	for _, c := range cases {
		fs, err := Faults(p, c.target)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range fs {
			if f.Class != c.class {
				continue
			}
			found = true
			if got := strings.TrimSpace(strings.TrimPrefix(f.ParamText(), c.param+"=")); got != c.want {
				t.Errorf("%s on %s: %s = %q, want %q", c.class, c.target, c.param, f.ParamText(), c.want)
			}
			if f.Why != c.why {
				t.Errorf("%s on %s: why %q, want %q", c.class, c.target, f.Why, c.why)
			}
		}
		if !found {
			t.Errorf("%s on %s: not in the vocabulary", c.class, c.target)
		}
	}
	// no-timeout removes the timeouts: the latencies fall back to the fixed, named ones
	fs, _ := Faults(profile(t, "no-timeout"), "link->billing")
	if fs[0].Class != ClassBeyond || fs[0].ParamText() != "latency=3s" {
		t.Errorf("no-timeout link->billing: got %s %s, want latency-beyond latency=3s", fs[0].Class, fs[0].ParamText())
	}
	comp, _ := Faults(p, "link-db")
	if len(comp) != 3 || comp[0].Class != ClassCrash || comp[1].Class != ClassPause || comp[2].Class != ClassCPU {
		t.Errorf("link-db: got %v, want crash, pause and cpu", comp)
	}
	if !Stateful(comp[0]) || Stateful(comp[1]) {
		t.Error("a store's crash needs a fresh system after it, its pause does not")
	}
	if _, err := Faults(p, "nowhere"); err == nil {
		t.Error("an unknown target was accepted")
	}
}

// A vocabulary line for a fault type this binary does not register is skipped, so the table
// can name a partial fault before its package lands.
func TestVocabularySkipsUnregistered(t *testing.T) {
	saved := Vocabulary
	t.Cleanup(func() { Vocabulary = saved })
	Vocabulary = append(Vocabulary[:len(Vocabulary):len(Vocabulary)],
		Entry{"http-500", "no_such_fault_type", true, fixed(map[string]any{"status": 500}, "500s")})
	fs, err := Faults(profile(t, "default"), "gateway->link")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Class == "http-500" {
			t.Fatal("an unregistered fault type joined the vocabulary")
		}
	}
	// a registered type with parameters it refuses is the table's bug: an error, not a skip
	Vocabulary = append(saved[:len(saved):len(saved)], Entry{"bad", "latency", true, fixed(map[string]any{"nope": 1}, "")})
	if _, err := Faults(profile(t, "default"), "gateway->link"); err == nil {
		t.Fatal("parameters the registry refuses were accepted")
	}
}

func staticPlan(t *testing.T, o Options) *Plan {
	t.Helper()
	pl, err := NewPlan(StaticMap(DefaultBase()), profile(t, "default"), o)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func TestPlanSingles(t *testing.T) {
	pl := staticPlan(t, Options{Seed: 1})
	// 13 edges × 7 + 6 HTTP edges × 3 request-level + 4 HTTP edges whose caller retries
	// (http-poison) + 9 components × 3 + 3 streams' surges
	if pl.Possible != 143 {
		t.Errorf("possible = %d, want 143", pl.Possible)
	}
	rules := map[string]int{}
	for _, p := range pl.Pruned {
		rules[p.Rule] = p.Count
	}
	// client->gateway: 7 + 3 request-level faults; off every path in the recorded map:
	// gateway->nats does not exist; redirect, link... all used; billing->nats is on create's
	// queue path.
	if rules[RuleOutside] != 10 {
		t.Errorf("outside pruned %d, want 10", rules[RuleOutside])
	}
	if got := len(pl.Singles) + pl.PrunedTotal(); got != pl.Possible {
		t.Errorf("planned %d + pruned %d != possible %d", len(pl.Singles), pl.PrunedTotal(), pl.Possible)
	}
	seen := map[string]bool{}
	for i, e := range pl.Singles {
		if seen[e.ID] {
			t.Errorf("%s planned twice", e.ID)
		}
		seen[e.ID] = true
		if len(e.Streams) == 0 {
			t.Errorf("%s lies on no stream's path", e.ID)
		}
		// stateful experiments come last
		if i > 0 && pl.Singles[i-1].Stateful() && !e.Stateful() {
			t.Errorf("%s (reusable) after a stateful experiment", e.ID)
		}
	}
}

func TestPlanIsDeterministicPerSeed(t *testing.T) {
	a, b := staticPlan(t, Options{Seed: 7, Pairs: true}), staticPlan(t, Options{Seed: 7, Pairs: true})
	if a.Text() != b.Text() {
		t.Fatal("the same seed gave two plans")
	}
	c := staticPlan(t, Options{Seed: 8, Pairs: true})
	if a.Text() == c.Text() {
		t.Fatal("another seed gave the same order")
	}
}

func TestPlanPairs(t *testing.T) {
	pl := staticPlan(t, Options{Seed: 1, Pairs: true})
	rules := map[string]int{}
	for _, p := range pl.Pruned {
		rules[p.Rule] = p.Count
	}
	for _, r := range []string{RuleSameTarget, RuleNotOnePath, RuleBelow} {
		if rules[r] == 0 {
			t.Errorf("rule %s pruned nothing", r)
		}
	}
	if got := len(pl.Singles) + len(pl.Pairs) + pl.PrunedTotal(); got != pl.Possible {
		t.Errorf("planned + pruned = %d, possible %d", got, pl.Possible)
	}
	for _, e := range pl.Pairs {
		a, b := e.Faults[0], e.Faults[1]
		if sameTarget(a, b) {
			t.Errorf("%s: same target", e.ID)
		}
		// both on one stream's path: e.g. stats never meets redirect->redis
		if e.ID == "refused@gateway->analytics+refused@redirect->redis" {
			t.Errorf("%s: the targets share no path", e.ID)
		}
		if below(a, b) || below(b, a) {
			t.Errorf("%s: an edge below its failed caller", e.ID)
		}
	}
	// the queue path counts: link-created reaches analytics' store, so a pair of a create
	// edge and analytics' store is planned
	found := false
	for _, e := range pl.Pairs {
		if e.ID == "refused@link->billing+refused@analytics->analytics-db" || e.ID == "refused@analytics->analytics-db+refused@link->billing" {
			found = true
		}
	}
	if !found {
		t.Error("a pair on create's queue path (link->billing with analytics->analytics-db) was not planned")
	}
}

func TestPlanLimitPrunesByBudget(t *testing.T) {
	pl := staticPlan(t, Options{Seed: 1, Pairs: true, Limit: 10})
	if len(pl.Singles) != 10 || len(pl.Pairs) != 0 {
		t.Fatalf("limit 10: %d singles, %d pairs", len(pl.Singles), len(pl.Pairs))
	}
	var budget int
	for _, p := range pl.Pruned {
		if p.Rule == RuleBudget {
			budget = p.Count
		}
	}
	if budget == 0 {
		t.Fatal("the cut experiments are not counted as pruned by the budget")
	}
	full := staticPlan(t, Options{Seed: 1, Pairs: true})
	for i := range pl.Singles {
		if pl.Singles[i].ID != full.Singles[i].ID {
			t.Fatal("the budget changed the order")
		}
	}
}

func TestDryRunGolden(t *testing.T) {
	golden(t, "dry-run.singles.txt", []byte(staticPlan(t, Options{Seed: 1}).Text()))
	pl := staticPlan(t, Options{Seed: 1, Pairs: true, Limit: 100})
	golden(t, "dry-run.pairs.txt", []byte(pl.Text()))
}

// --only runs exactly the experiments named, a pair in either order, and counts the rest as
// not selected: planned + pruned still make the possible space.
func TestPlanOnly(t *testing.T) {
	pair := "latency-beyond@redirect->link+refused@redirect->redis"
	pl := staticPlan(t, Options{Seed: 1, Only: []string{"refused@link->billing", pair}})
	if len(pl.Singles) != 1 || pl.Singles[0].ID != "refused@link->billing" {
		t.Errorf("singles %v, want refused@link->billing", ids(pl.Singles))
	}
	if !pl.WithPair || len(pl.Pairs) != 1 || (pl.Pairs[0].ID != pair && pl.Pairs[0].ID != SwapPair(pair)) {
		t.Errorf("pairs %v, want %s (a pair asked for turns pairs on)", ids(pl.Pairs), pair)
	}
	if got := len(pl.Singles) + len(pl.Pairs) + pl.PrunedTotal(); got != pl.Possible {
		t.Errorf("planned + pruned = %d, possible %d", got, pl.Possible)
	}
	if SwapPair("a@x+b@y") != "b@y+a@x" || SwapPair("a@x") != "a@x" {
		t.Error("SwapPair")
	}
	for _, bad := range []string{"refused", "nope@link->billing", "refused@nowhere", "refused@link->billing+refused@redis+pause@redis"} {
		if _, err := NewPlan(StaticMap(DefaultBase()), profile(t, "default"), Options{Only: []string{bad}}); err == nil {
			t.Errorf("--only %s: no error", bad)
		}
	}
	// a single outside the path map stays pruned by its own rule, not resurrected by --only
	pl = staticPlan(t, Options{Seed: 1, Only: []string{"refused@client->gateway"}})
	if len(pl.Singles) != 0 {
		t.Errorf("the load generator's own edge was planned: %v", ids(pl.Singles))
	}
}

func ids(xs []Experiment) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.ID)
	}
	return out
}
