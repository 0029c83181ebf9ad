package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
)

func TestKillMatrix(t *testing.T) {
	rows := []powerRow{
		{sc: &scenarios.Scenario{Name: "billing-down"}, own: &reports.Results{Profile: "default", Verdict: "pass"},
			kills: []kill{{mutant: "no-fallback", Kill: verdict.Kill{Outcome: verdict.Caught, By: []string{verdict.BySLO, verdict.ByBlast},
				Because: []string{"SLO create errors<1% in fault: measured 1 ratio", "expected blast radius contained …, observed affected: [link]"}}}}},
		{sc: &scenarios.Scenario{Name: "link-down"}, own: &reports.Results{Profile: "default", Verdict: "pass"},
			kills: []kill{{mutant: "no-breaker", Kill: verdict.Kill{Outcome: verdict.Missed, Because: []string{"every check held"}}},
				{mutant: "no-fallback", Kill: verdict.Kill{Outcome: verdict.Caught, By: []string{verdict.ByAbort}}}}},
	}
	got := killMatrix(rows)
	for _, want := range []string{
		"| scenario | own profile | no-breaker | no-fallback |",
		"| billing-down | default pass | · | caught (SLO, blast radius) |",
		"| link-down | default pass | MISSED | caught (abort) |",
		"| **caught by** | | 0/1 | 2/2 |",
		"- link-down × no-breaker: MISSED — every check held",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("matrix lacks %q:\n%s", want, got)
		}
	}
}

func TestMutateUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"no argument", []string{"mutate"}},
		{"missing file", []string{"mutate", "testdata/does-not-exist.yaml"}},
		{"unknown mutant", []string{"mutate", "../../scenarios/testdata/controls.bad.yaml"}},
		{"unknown flag", []string{"mutate", "--frobnicate", "../../scenarios/smoke.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			if got := run(t.Context(), c.args, &out, &errOut); got != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", got, exitUsage, errOut.String())
			}
		})
	}
}

func TestPlanControlsCover(t *testing.T) {
	sc := func(name string, d time.Duration, controls ...string) *scenarios.Scenario {
		return &scenarios.Scenario{Name: name, Duration: scenarios.Duration(d), Controls: controls}
	}
	long := sc("long", 40*time.Second, "no-breaker", "no-timeout")
	short := sc("short", 20*time.Second, "no-timeout")
	tieB := sc("b", 30*time.Second, "no-fallback")
	tieA := sc("a", 30*time.Second, "no-fallback")
	all := []*scenarios.Scenario{long, short, tieB, tieA}

	full := planControls(all, false)
	if !reflect.DeepEqual(full[long], []string{"no-breaker", "no-timeout"}) || len(full[short]) != 1 || len(full[tieA]) != 1 || len(full[tieB]) != 1 {
		t.Errorf("full plan = %v, want every listed control", full)
	}
	cover := planControls(all, true)
	want := map[*scenarios.Scenario][]string{long: {"no-breaker"}, short: {"no-timeout"}, tieA: {"no-fallback"}}
	if !reflect.DeepEqual(cover, want) {
		t.Errorf("cover plan = %v, want each mutant once on its shortest scenario (ties by name)", cover)
	}
	unc := uncoveredMutants(all)
	for _, m := range []string{"no-backoff", "no-dedup", "no-outbox", "unbounded-bulkhead"} {
		if !slices.Contains(unc, m) {
			t.Errorf("uncovered = %v, want %s in it", unc, m)
		}
	}
	if slices.Contains(unc, "no-breaker") || slices.Contains(unc, "none") || slices.Contains(unc, "aggressive") {
		t.Errorf("uncovered = %v: listed mutants and non-removal profiles must not be there", unc)
	}
}
