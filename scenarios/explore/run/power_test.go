package run

import (
	"slices"
	"strings"
	"testing"

	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/explore"
	"github.com/faultline/faultline/system/policy"
)

// Every protection mutant of default and of adaptive has a power case: the check can miss
// one, but never leave one out.
func TestPowerCasesCoverEveryMutant(t *testing.T) {
	if err := validCases(PowerCases); err != nil {
		t.Fatal(err)
	}
	notMutants := []string{"adaptive", "aggressive", "hedged"} // whole alternatives, not one protection removed
	var got []string
	for _, c := range PowerCases {
		got = append(got, c.Mutant)
		if len(c.Experiments) == 0 && c.Why == "" {
			t.Errorf("%s: neither an experiment nor why it cannot be shown", c.Mutant)
		}
		base := explore.DefaultBase()
		if c.Scenario != "" {
			b, err := loadBase(c.Scenario)
			if err != nil {
				t.Fatalf("%s: %v", c.Mutant, err)
			}
			base = b
		}
		for _, id := range c.Experiments {
			pl, err := explore.NewPlan(explore.StaticMap(base), profile(t, c.Against), explore.Options{Only: []string{id}})
			if err != nil {
				t.Fatalf("%s: %v", c.Mutant, err)
			}
			if n := len(pl.Singles) + len(pl.Pairs); n != 1 {
				t.Errorf("%s: experiment %s plans %d experiments on the recorded map, want 1", c.Mutant, id, n)
			}
		}
	}
	for _, m := range scenarios.Mutants() {
		if !slices.Contains(notMutants, m) && !slices.Contains(got, m) {
			t.Errorf("mutant %s has no power case", m)
		}
	}
	if err := validCases([]PowerCase{{Mutant: "no-such"}}); err == nil {
		t.Error("an unknown mutant passed")
	}
	if err := validCases([]PowerCase{{Mutant: "none"}, {Mutant: "none"}}); err == nil {
		t.Error("a mutant listed twice passed")
	}
	if err := validCases([]PowerCase{{Mutant: "none", Scenario: "scenarios/explore/testdata/no-such.yaml"}}); err == nil || !strings.Contains(err.Error(), "no-such.yaml") {
		t.Errorf("a case whose base scenario is missing: %v, want an error naming the file", err)
	}
}

func outcome(id string, classes map[string]string, data map[string]int) rexplore.Outcome {
	o := rexplore.Outcome{ID: id, Valid: true, Streams: map[string]rexplore.StreamOutcome{}, Data: data}
	for n, c := range classes {
		o.Streams[n] = rexplore.StreamOutcome{Class: c, Rate: 5, Impact: 0.5}
	}
	return o
}

func TestPowerRows(t *testing.T) {
	held := map[string]string{"create": rexplore.Held, "redirect": rexplore.Held}
	brokenCreate := map[string]string{"create": rexplore.Broken, "redirect": rexplore.Held}
	unproven := map[string]string{"create": rexplore.Unproven, "redirect": rexplore.Held}
	pair := "latency-beyond@redirect->link+refused@redirect->redis"
	exs := map[string]*rexplore.Exploration{
		"default": {Profile: "default", Outcomes: []rexplore.Outcome{
			outcome("refused@link->billing", held, nil),
			outcome("latency-beyond@link->billing", brokenCreate, nil),
			outcome("blackhole@link->nats", held, nil),
			outcome(explore.SwapPair(pair), map[string]string{"redirect": rexplore.Slowed}, nil),
		}},
		"no-fallback": {Profile: "no-fallback", Outcomes: []rexplore.Outcome{outcome("refused@link->billing", brokenCreate, nil)}},
		// as weak as default: no power
		"no-timeout": {Profile: "no-timeout", Outcomes: []rexplore.Outcome{outcome("latency-beyond@link->billing", brokenCreate, nil)}},
		// unproven is no evidence, either way
		"none":       {Profile: "none", Outcomes: []rexplore.Outcome{outcome("refused@link->billing", unproven, nil)}},
		"no-breaker": {Profile: "no-breaker", Outcomes: []rexplore.Outcome{outcome(explore.SwapPair(pair), map[string]string{"redirect": rexplore.Broken}, nil)}},
		"no-outbox": {Profile: "no-outbox", Outcomes: []rexplore.Outcome{outcome("blackhole@link->nats",
			map[string]string{"create": rexplore.DataLost, "redirect": rexplore.Held}, map[string]int{"lost_link_events": 7})}},
	}
	cases := []PowerCase{
		{"no-fallback", "default", []string{"refused@link->billing"}, "", ""},
		{"no-timeout", "default", []string{"latency-beyond@link->billing"}, "", ""},
		{"none", "default", []string{"refused@link->billing"}, "", ""},
		{"no-breaker", "default", []string{pair}, "", ""}, // ran under the other spelling of the pair
		{"no-outbox", "default", []string{"blackhole@link->nats"}, "", ""},
		{"no-dedup", "default", []string{"latency-beyond@redirect->nats"}, "", ""}, // not explored
		{"unbounded-bulkhead", "default", nil, "needs a surge", ""},
	}
	// a case with its own load is judged against its base explored under that load, not
	// under the built-in mix (where adaptive breaks too here: no power)
	poison := "http-poison@redirect->link+refused@redirect->redis"
	storm := "scenarios/explore/testdata/retry-storm.yaml"
	brokenRedirect := map[string]string{"redirect": rexplore.Broken}
	exs["adaptive"] = &rexplore.Exploration{Profile: "adaptive", Outcomes: []rexplore.Outcome{outcome(poison, brokenRedirect, nil)}}
	exs["adaptive+retry-storm"] = &rexplore.Exploration{Profile: "adaptive", Scenario: "explore-retry-storm",
		Outcomes: []rexplore.Outcome{outcome(poison, map[string]string{"redirect": rexplore.Held}, nil)}}
	exs["no-budget"] = &rexplore.Exploration{Profile: "no-budget", Outcomes: []rexplore.Outcome{outcome(poison, brokenRedirect, nil)}}
	cases = append(cases, PowerCase{"no-budget", "adaptive", []string{poison}, "", storm})
	rows := PowerRows(cases, exs)
	want := map[string]string{ // mutant → found, or the start of why missed
		"no-fallback":        "refused@link->billing",
		"no-timeout":         "MISSED: no experiment hurt no-timeout more than default (latency-beyond@link->billing: default create broken, redirect held, no-timeout create broken",
		"none":               "MISSED: no experiment hurt none more",
		"no-breaker":         explore.SwapPair(pair),
		"no-outbox":          "blackhole@link->nats",
		"no-dedup":           "MISSED: not explored",
		"unbounded-bulkhead": "MISSED: not expressible: needs a surge",
		"no-budget":          poison,
	}
	if len(rows) != len(cases) {
		t.Fatalf("%d rows for %d cases", len(rows), len(cases))
	}
	for _, r := range rows {
		got := strings.Join(r.Found, ",")
		if got == "" {
			got = "MISSED: " + r.Missed
		}
		if !strings.HasPrefix(got, want[r.Mutant]) {
			t.Errorf("%s: %q, want %q", r.Mutant, got, want[r.Mutant])
		}
	}
	table := PowerTable(rows)
	for _, s := range []string{"mutant", "unbounded-bulkhead", "MISSED: not expressible", "no-outbox", "lost_link_events 7"} {
		if !strings.Contains(table, s) {
			t.Errorf("the table lacks %q:\n%s", s, table)
		}
	}
	if n := strings.Count(table, "\n"); n != len(rows)+1 {
		t.Errorf("the table has %d lines, want a header and one per mutant:\n%s", n, table)
	}
}

// The bases of the check: one exploration per profile and load, with the union of the
// experiments of the cases judged against it; a case with its own scenario is its own base
// even when another case mutates the same profile under the built-in mix.
func TestPowerBases(t *testing.T) {
	storm := "scenarios/explore/testdata/retry-storm.yaml"
	got := powerBases([]PowerCase{
		{Mutant: "no-fallback", Against: "default", Experiments: []string{"refused@link->billing"}},
		{Mutant: "no-adaptive-limiter", Against: "adaptive", Experiments: []string{"surge@create"}},
		{Mutant: "none", Against: "default", Experiments: []string{"refused@link->billing", "blackhole@link->nats"}},
		{Mutant: "no-budget", Against: "adaptive", Experiments: []string{"http-poison@redirect->link"}, Scenario: storm},
		{Mutant: "no-throttler", Against: "adaptive", Scenario: storm}, // no experiment: not run
	})
	want := []powerBase{
		{key: "default", profile: "default", only: []string{"refused@link->billing", "blackhole@link->nats"}},
		{key: "adaptive", profile: "adaptive", only: []string{"surge@create"}},
		{key: "adaptive+retry-storm", profile: "adaptive", scenario: storm, only: []string{"http-poison@redirect->link"}},
	}
	if len(got) != len(want) {
		t.Fatalf("bases %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].key != want[i].key || got[i].profile != want[i].profile || got[i].scenario != want[i].scenario || !slices.Equal(got[i].only, want[i].only) {
			t.Errorf("base %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func profile(t *testing.T, name string) *policy.Profile {
	t.Helper()
	p, err := policy.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
