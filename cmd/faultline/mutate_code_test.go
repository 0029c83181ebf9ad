package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/mutants"
)

func TestPlanMutants(t *testing.T) {
	sc := func(name string, d time.Duration, controls, code []string) *scenarios.Scenario {
		return &scenarios.Scenario{Name: name, Duration: scenarios.Duration(d), Controls: controls, CodeControls: code}
	}
	long := sc("long", 40*time.Second, []string{"no-timeout"}, []string{"timeout-not-applied", "retry-extra-attempt"})
	short := sc("short", 20*time.Second, nil, []string{"timeout-not-applied"})
	all := []*scenarios.Scenario{long, short}
	cases := []struct {
		name string
		o    mutateOptions
		want map[*scenarios.Scenario][]string
	}{
		{"profiles only without --code", mutateOptions{},
			map[*scenarios.Scenario][]string{long: {"no-timeout"}, short: nil}},
		{"--code adds the code controls", mutateOptions{code: true},
			map[*scenarios.Scenario][]string{long: {"no-timeout", "code:timeout-not-applied", "code:retry-extra-attempt"}, short: {"code:timeout-not-applied"}}},
		{"--mutants narrows both kinds", mutateOptions{code: true, mutants: []string{"timeout-not-applied"}},
			map[*scenarios.Scenario][]string{long: {"code:timeout-not-applied"}, short: {"code:timeout-not-applied"}}},
		{"--cover runs a code mutant once, on the shortest", mutateOptions{code: true, cover: true},
			map[*scenarios.Scenario][]string{long: {"no-timeout", "code:retry-extra-attempt"}, short: {"code:timeout-not-applied"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := planMutants(all, c.o); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestCheckMutantNames(t *testing.T) {
	cases := []struct {
		name string
		o    mutateOptions
		want string // "" = accepted
	}{
		{"profile", mutateOptions{mutants: []string{"no-timeout"}}, ""},
		{"code with --code", mutateOptions{code: true, mutants: []string{"outbox-marks-unacked", "none"}}, ""},
		{"code without --code", mutateOptions{mutants: []string{"outbox-marks-unacked"}}, "is a code mutant: add --code"},
		{"unknown", mutateOptions{code: true, mutants: []string{"no-such"}}, `unknown mutant "no-such"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkMutantNames(c.o)
			var ue usageError
			switch {
			case c.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &ue)):
				t.Errorf("got %v, want a usage error containing %q", err, c.want)
			}
		})
	}
}

func TestUncoveredCode(t *testing.T) {
	listed := &scenarios.Scenario{Name: "s", CodeControls: []string{"timeout-not-applied"}}
	got := uncoveredCode([]*scenarios.Scenario{listed})
	if len(got) != len(mutants.Names())-1 || strings.Contains(strings.Join(got, ","), "timeout-not-applied") {
		t.Errorf("uncovered = %v, want every code mutant but timeout-not-applied", got)
	}
	for _, m := range got {
		if !strings.HasPrefix(m, codePrefix) {
			t.Errorf("uncovered %q: want the code: prefix", m)
		}
	}
}

// TestCodeBuildsErrors: what cannot be built is an error (an ERROR cell), never a run on the
// unpatched binary.
func TestCodeBuildsErrors(t *testing.T) {
	var log strings.Builder
	c := &codeBuilds{source: t.TempDir(), log: &log}
	defer c.close()
	if _, err := c.binary(t.Context(), "code:no-such"); err == nil {
		t.Error("unknown code mutant: want an error")
	}
	if _, err := c.binary(t.Context(), "code:timeout-not-applied"); !errors.Is(err, mutants.ErrNoSource) {
		t.Errorf("source without go.mod: got %v, want ErrNoSource", err)
	}
}

func TestMutateCodeUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"code mutant without --code", []string{"mutate", "--mutants", "timeout-not-applied", "../../scenarios/smoke.yaml"}},
		{"unknown mutant", []string{"mutate", "--code", "--mutants", "no-such-bug", "../../scenarios/smoke.yaml"}},
		{"unknown code control", []string{"mutate", "--code", "../../scenarios/testdata/code-controls.bad.yaml"}},
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
