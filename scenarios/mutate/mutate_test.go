package mutate

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/mutants"
)

func sc(name string, d time.Duration, controls, code []string) *scenarios.Scenario {
	return &scenarios.Scenario{Name: name, Profile: "default", Duration: scenarios.Duration(d), Controls: controls, CodeControls: code}
}

func TestPlan(t *testing.T) {
	long := sc("long", 40*time.Second, []string{"no-timeout"}, []string{"timeout-not-applied", "retry-extra-attempt"})
	short := sc("short", 20*time.Second, nil, []string{"timeout-not-applied"})
	tieB := sc("b", 30*time.Second, []string{"no-fallback"}, nil)
	tieA := sc("a", 30*time.Second, []string{"no-fallback"}, nil)
	all := []*scenarios.Scenario{long, short, tieB, tieA}
	type plan = map[*scenarios.Scenario][]string
	cases := []struct {
		name string
		o    Options
		want plan
	}{
		{"profiles only without Code", Options{}, plan{long: {"no-timeout"}, short: nil, tieA: {"no-fallback"}, tieB: {"no-fallback"}}},
		{"Code adds the code controls", Options{Code: true},
			plan{long: {"no-timeout", "code:timeout-not-applied", "code:retry-extra-attempt"}, short: {"code:timeout-not-applied"}, tieA: {"no-fallback"}, tieB: {"no-fallback"}}},
		{"Mutants narrows both kinds", Options{Code: true, Mutants: []string{"timeout-not-applied"}},
			plan{long: {"code:timeout-not-applied"}, short: {"code:timeout-not-applied"}, tieA: nil, tieB: nil}},
		{"OnlyCode leaves the profile controls out", Options{OnlyCode: true},
			plan{long: {"code:timeout-not-applied", "code:retry-extra-attempt"}, short: {"code:timeout-not-applied"}, tieA: nil, tieB: nil}},
		{"Cover: each once, on the shortest, ties by name", Options{Code: true, Cover: true},
			plan{long: {"no-timeout", "code:retry-extra-attempt"}, short: {"code:timeout-not-applied"}, tieA: {"no-fallback"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Plan(all, c.o); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestCheckNames(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want string // "" = accepted
	}{
		{"profile", Options{Mutants: []string{"no-timeout"}}, ""},
		{"code with Code", Options{Code: true, Mutants: []string{"outbox-marks-unacked", "none"}}, ""},
		{"code without Code", Options{Mutants: []string{"outbox-marks-unacked"}}, "is a code mutant: add --code"},
		{"unknown", Options{Code: true, Mutants: []string{"no-such"}}, `unknown mutant "no-such"`},
		{"negative repeat", Options{Repeat: -1}, "--repeat -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckNames(c.o)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrUsage)):
				t.Errorf("got %v, want ErrUsage containing %q", err, c.want)
			}
		})
	}
}

func TestUncovered(t *testing.T) {
	all := []*scenarios.Scenario{sc("s", time.Second, []string{"no-breaker"}, []string{"timeout-not-applied"})}
	unc := Uncovered(all, false)
	for _, m := range []string{"no-backoff", "no-dedup", "no-outbox", "unbounded-bulkhead"} {
		if !slices.Contains(unc, m) {
			t.Errorf("uncovered = %v, want %s in it", unc, m)
		}
	}
	if slices.Contains(unc, "no-breaker") || slices.Contains(unc, "none") || slices.Contains(unc, "aggressive") {
		t.Errorf("uncovered = %v: listed mutants and non-removal profiles must not be there", unc)
	}
	if slices.ContainsFunc(unc, func(m string) bool { return strings.HasPrefix(m, CodePrefix) }) {
		t.Errorf("uncovered = %v: code mutants only with code", unc)
	}
	withCode := Uncovered(all, true)
	code := slices.DeleteFunc(slices.Clone(withCode), func(m string) bool { return !strings.HasPrefix(m, CodePrefix) })
	if len(code) != len(mutants.Names())-1 || slices.Contains(code, "code:timeout-not-applied") {
		t.Errorf("uncovered code = %v, want every code mutant but timeout-not-applied", code)
	}
}

// TestBuildsErrors: what cannot be built is an error (an ERROR cell), never a run on the
// unpatched binary.
func TestBuildsErrors(t *testing.T) {
	c := &Builds{Source: t.TempDir()}
	defer c.Close()
	if _, err := c.Binary(t.Context(), "no-such"); err == nil {
		t.Error("unknown code mutant: want an error")
	}
	if _, err := c.Binary(t.Context(), "timeout-not-applied"); !errors.Is(err, mutants.ErrNoSource) {
		t.Errorf("source without go.mod: got %v, want ErrNoSource", err)
	}
}

var phases = []reports.PhaseWindow{{Name: "baseline", StartS: 0, EndS: 5}, {Name: "fault", StartS: 5, EndS: 15}, {Name: "recovery", StartS: 15, EndS: 20}}

// own passes its one SLO; failing fails that same SLO in the fault phase (a kill), holding
// does not (a miss).
func own() *reports.Results {
	return &reports.Results{Verdict: reports.VerdictPass, Valid: true, Profile: "default", Phases: phases,
		SLOs: []reports.SLOResult{{Stream: "redirect", Phase: "fault", Threshold: "errors<1%", Value: 0, Unit: "ratio", Pass: true}}}
}

func mutantRun(fails bool) *reports.Results {
	r := own()
	r.Verdict, r.ExpectedVerdict = reports.VerdictFail, reports.VerdictFail
	r.SLOs[0].Pass, r.SLOs[0].Value = !fails, 0.4
	if !fails {
		r.Verdict = reports.VerdictPass
	}
	return r
}

// TestExecuteRepeats: a mutant is caught only when every repeat caught it, and its repeats
// stop at the first that did not; each repeat has its own run directory; a code mutant that
// cannot be built is an ERROR and never runs.
func TestExecuteRepeats(t *testing.T) {
	s := sc("s", 20*time.Second, []string{"no-breaker", "no-timeout"}, []string{"timeout-not-applied"})
	var ran []string
	calls := map[string]int{}
	run := func(_ context.Context, _ *scenarios.Scenario, profile, binary, expect, dir string) *reports.Results {
		ran = append(ran, dir)
		if expect == reports.VerdictPass {
			return own()
		}
		calls[profile]++
		// no-breaker is caught every time; no-timeout escapes its second repeat.
		return mutantRun(profile == "no-breaker" || calls[profile] != 2)
	}
	binary := func(context.Context, string) (string, error) { return "", errors.New("go build: boom") }
	rows := Execute(t.Context(), []*scenarios.Scenario{s}, Options{Code: true, Repeat: 3}, "out", run, binary)
	if len(rows) != 1 || len(rows[0].Kills) != 3 {
		t.Fatalf("rows = %+v, want one row with three mutants", rows)
	}
	k := rows[0].Kills
	if k[0].Outcome() != verdict.Caught || k[0].Caught() != 3 {
		t.Errorf("no-breaker: %s %d/3, want caught 3/3", k[0].Outcome(), k[0].Caught())
	}
	if k[1].Outcome() != verdict.Missed || k[1].Caught() != 1 || len(k[1].Runs) != 2 {
		t.Errorf("no-timeout: %s %d/%d, want MISSED 1/2 (a kill that comes and goes is not a kill; no third run)", k[1].Outcome(), k[1].Caught(), len(k[1].Runs))
	}
	if k[2].Outcome() != verdict.Errored || len(k[2].Runs) != 1 || !strings.Contains(k[2].Because(), "boom") {
		t.Errorf("code mutant: %+v, want ERROR from the build", k[2])
	}
	want := []string{"out/s/default", "out/s/no-breaker/1", "out/s/no-breaker/2", "out/s/no-breaker/3",
		"out/s/no-timeout/1", "out/s/no-timeout/2"}
	if !reflect.DeepEqual(ran, want) {
		t.Errorf("ran %v, want %v (the code mutant must not run on the unpatched binary)", ran, want)
	}
	if AsExpected(rows) {
		t.Error("AsExpected = true with a miss and an error")
	}
	m := Matrix(rows)
	for _, w := range []string{"| s | default pass |", "caught 3/3 (SLO)", "MISSED 1/2 (SLO)", "ERROR 0/1",
		"each mutant ran 3 times and counts as caught only when every run caught it",
		"- s × no-timeout: MISSED — run 1 caught:",
		"- s × code:timeout-not-applied: ERROR — go build: boom (its patch expects: smoke: SLO create p(99)<500ms"} {
		if !strings.Contains(m, w) {
			t.Errorf("matrix lacks %q:\n%s", w, m)
		}
	}
}

// TestExecuteOnlyNamedMutants: naming mutants runs only the scenarios they are planned on.
func TestExecuteOnlyNamedMutants(t *testing.T) {
	a := sc("a", 20*time.Second, []string{"no-breaker"}, nil)
	b := sc("b", 20*time.Second, []string{"no-timeout"}, nil)
	var ran []string
	run := func(_ context.Context, s *scenarios.Scenario, profile, _, expect, _ string) *reports.Results {
		ran = append(ran, s.Name+"/"+profile)
		if expect == reports.VerdictPass {
			return own()
		}
		return mutantRun(true)
	}
	rows := Execute(t.Context(), []*scenarios.Scenario{a, b}, Options{Mutants: []string{"no-timeout"}}, "out", run, nil)
	if want := []string{"b/default", "b/no-timeout"}; !reflect.DeepEqual(ran, want) || len(rows) != 1 {
		t.Errorf("ran %v (%d rows), want %v in one row", ran, len(rows), want)
	}
}

func TestMatrixSingleRun(t *testing.T) {
	rows := []Row{
		{Scenario: &scenarios.Scenario{Name: "billing-down"}, Own: &reports.Results{Profile: "default", Verdict: "pass"},
			Kills: []Kill{{Mutant: "no-fallback", Runs: []verdict.Kill{{Outcome: verdict.Caught, By: []string{verdict.BySLO, verdict.ByBlast},
				Because: []string{"SLO create errors<1% in fault: measured 1 ratio", "blast radius"}}}}}},
		{Scenario: &scenarios.Scenario{Name: "link-down"}, Own: &reports.Results{Profile: "default", Verdict: "pass"},
			Kills: []Kill{{Mutant: "no-breaker", Runs: []verdict.Kill{{Outcome: verdict.Missed, Because: []string{"every check held"}}}},
				{Mutant: "no-fallback", Runs: []verdict.Kill{{Outcome: verdict.Caught, By: []string{verdict.ByAbort}}}}}},
	}
	got := Matrix(rows)
	for _, want := range []string{
		"| scenario | own profile | no-breaker | no-fallback |",
		"| billing-down | default pass | · | caught (SLO, blast radius) |",
		"| link-down | default pass | MISSED | caught (abort) |",
		"| **caught by** | | 0/1 | 2/2 |",
		"- link-down × no-breaker: MISSED — every check held",
		// The tail names what went wrong: a CI log is often cut to its end.
		"**Not as expected:**\n\n- link-down × no-breaker: MISSED — every check held\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("matrix lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "- link-down × no-breaker: MISSED — every check held\n") {
		t.Errorf("the matrix does not end with what was not as expected:\n%s", got)
	}
}

func TestNotAsExpectedNamesAFailedOwnRun(t *testing.T) {
	rows := []Row{
		{Scenario: &scenarios.Scenario{Name: "smoke"}, Own: &reports.Results{Profile: "default", Verdict: "pass"}},
		{Scenario: &scenarios.Scenario{Name: "retry-budget"}, Own: &reports.Results{Profile: "adaptive", Verdict: "fail",
			Reasons: []string{"SLO redirect errors<1.4% in fault: measured 0.015 ratio"}}},
	}
	got := NotAsExpected(rows)
	want := "- retry-budget with its own profile adaptive: fail — SLO redirect errors<1.4% in fault: measured 0.015 ratio\n"
	if !strings.Contains(got, want) || strings.Contains(got, "smoke") {
		t.Errorf("NotAsExpected = %q, want it to name retry-budget only", got)
	}
	if NotAsExpected(rows[:1]) != "" {
		t.Error("all as expected, yet something is listed")
	}
}
