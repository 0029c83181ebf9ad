// Package mutate measures verdict power: which scenarios run against which mutants (profiles
// that remove a protection, code mutants that plant a bug), how often, and the kill matrix the
// runs add up to. The rules that judge one mutant run live in reports/verdict (JudgeKill); this
// package plans the runs, repeats them and tallies them.
package mutate

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/mutants"
)

// CodePrefix names a code mutant in the plan and the kill matrix ("code:timeout-not-applied"),
// so it cannot be taken for a profile.
const CodePrefix = "code:"

// Options choose what runs.
type Options struct {
	Cover    bool     // each mutant once, on the shortest scenario listing it
	Code     bool     // also the code mutants scenarios list under code_controls
	OnlyCode bool     // the code mutants only, not the profile controls (implies Code)
	Mutants  []string // only these mutants (profile or code names); empty = all listed
	Repeat   int      // runs per scenario × mutant; a kill must hold in every one (0 = 1)
}

// ErrUsage marks a bad choice of mutants: the caller's input.
var ErrUsage = errors.New("mutate: bad usage")

// CheckNames rejects a --mutants name that is neither a mutant profile nor a code mutant, and
// a code mutant without Code.
func CheckNames(o Options) error {
	profiles, code := scenarios.Mutants(), mutants.Names()
	for _, m := range o.Mutants {
		switch {
		case slices.Contains(profiles, m):
		case slices.Contains(code, m):
			if !o.Code && !o.OnlyCode {
				return fmt.Errorf("%w: --mutants: %s is a code mutant: add --code", ErrUsage, m)
			}
		default:
			return fmt.Errorf("%w: --mutants: unknown mutant %q, expected a profile (%s) or a code mutant (%s)",
				ErrUsage, m, strings.Join(profiles, ", "), strings.Join(code, ", "))
		}
	}
	if o.Repeat < 0 {
		return fmt.Errorf("%w: --repeat %d: expected 1 or more", ErrUsage, o.Repeat)
	}
	return nil
}

// Plan lists what each scenario runs: its profile controls, with Code its code controls too
// (as CodePrefix+name), narrowed to Mutants when given; with Cover each mutant runs only on
// the shortest scenario listing it (ties broken by name, so the plan is stable).
func Plan(scs []*scenarios.Scenario, o Options) map[*scenarios.Scenario][]string {
	want := func(name string) bool { return len(o.Mutants) == 0 || slices.Contains(o.Mutants, name) }
	return planLists(scs, o.Cover, func(sc *scenarios.Scenario) []string {
		var out []string
		for _, m := range sc.Controls {
			if want(m) && !o.OnlyCode {
				out = append(out, m)
			}
		}
		if o.Code || o.OnlyCode {
			for _, m := range sc.CodeControls {
				if want(m) {
					out = append(out, CodePrefix+m)
				}
			}
		}
		return out
	})
}

func planLists(scs []*scenarios.Scenario, cover bool, list func(*scenarios.Scenario) []string) map[*scenarios.Scenario][]string {
	plan := map[*scenarios.Scenario][]string{}
	if !cover {
		for _, sc := range scs {
			plan[sc] = list(sc)
		}
		return plan
	}
	best := map[string]*scenarios.Scenario{}
	var order []string
	for _, sc := range scs {
		for _, m := range list(sc) {
			b, seen := best[m]
			if !seen {
				order = append(order, m)
			}
			if !seen || sc.Duration < b.Duration || sc.Duration == b.Duration && sc.Name < b.Name {
				best[m] = sc
			}
		}
	}
	for _, m := range order {
		plan[best[m]] = append(plan[best[m]], m)
	}
	return plan
}

// Uncovered lists the built-in mutants that remove one protection (no-*, unbounded-*), that
// are not a known gap (scenarios.Uncaught), and that no scenario lists — a protection the catalogue cannot vouch for — and, with code, the
// code mutants no scenario lists under code_controls.
func Uncovered(scs []*scenarios.Scenario, code bool) []string {
	listed := func(m string, list func(*scenarios.Scenario) []string) bool {
		return slices.ContainsFunc(scs, func(sc *scenarios.Scenario) bool { return slices.Contains(list(sc), m) })
	}
	var out []string
	for _, m := range scenarios.Mutants() {
		if _, gap := scenarios.Uncaught[m]; gap {
			continue // a known gap, listed in docs/catalogue.md
		}
		if (strings.HasPrefix(m, "no-") || strings.HasPrefix(m, "unbounded-")) &&
			!listed(m, func(sc *scenarios.Scenario) []string { return sc.Controls }) {
			out = append(out, m)
		}
	}
	if code {
		for _, m := range mutants.Names() {
			if !listed(m, func(sc *scenarios.Scenario) []string { return sc.CodeControls }) {
				out = append(out, CodePrefix+m)
			}
		}
	}
	return out
}
