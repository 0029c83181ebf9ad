package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/mutants"
)

// codePrefix names a code mutant in the plan and the kill matrix ("code:timeout-not-applied"),
// so it cannot be taken for a profile.
const codePrefix = "code:"

// planMutants lists what each scenario runs: its profile controls, with --code its code
// controls too, narrowed to --mutants when given; with --cover each mutant runs once.
func planMutants(scs []*scenarios.Scenario, o mutateOptions) map[*scenarios.Scenario][]string {
	want := func(name string) bool { return len(o.mutants) == 0 || slices.Contains(o.mutants, name) }
	return planLists(scs, o.cover, func(sc *scenarios.Scenario) []string {
		var out []string
		for _, m := range sc.Controls {
			if want(m) {
				out = append(out, m)
			}
		}
		if o.code {
			for _, m := range sc.CodeControls {
				if want(m) {
					out = append(out, codePrefix+m)
				}
			}
		}
		return out
	})
}

// checkMutantNames rejects a --mutants name that is neither a mutant profile nor a code
// mutant, and a code mutant without --code.
func checkMutantNames(o mutateOptions) error {
	profiles, code := scenarios.Mutants(), mutants.Names()
	for _, m := range o.mutants {
		switch {
		case slices.Contains(profiles, m):
		case slices.Contains(code, m):
			if !o.code {
				return usageError{fmt.Errorf("--mutants: %s is a code mutant: add --code", m)}
			}
		default:
			return usageError{fmt.Errorf("--mutants: unknown mutant %q, expected a profile (%s) or a code mutant (%s)",
				m, strings.Join(profiles, ", "), strings.Join(code, ", "))}
		}
	}
	return nil
}

// uncoveredCode lists the code mutants no scenario lists under code_controls.
func uncoveredCode(scs []*scenarios.Scenario) []string {
	var out []string
	for _, m := range mutants.Names() {
		if !slices.ContainsFunc(scs, func(sc *scenarios.Scenario) bool { return slices.Contains(sc.CodeControls, m) }) {
			out = append(out, codePrefix+m)
		}
	}
	return out
}

// codeBuilds builds the code mutants' binaries on first use, one per patch, for one mutate
// invocation; close removes them.
type codeBuilds struct {
	source string // module root; "" = the one containing the working directory
	log    io.Writer
	b      *mutants.Builder
}

// binary returns the faultline binary for mutant ("code:NAME"), building it if needed.
func (c *codeBuilds) binary(ctx context.Context, mutant string) (string, error) {
	name := strings.TrimPrefix(mutant, codePrefix)
	m, ok := mutants.Get(name)
	if !ok {
		return "", fmt.Errorf("mutate: unknown code mutant %q", name)
	}
	if c.b == nil {
		src := c.source
		if src == "" {
			var err error
			if src, err = mutants.FindSource("."); err != nil {
				return "", err
			}
		}
		b, err := mutants.NewBuilder(src)
		if err != nil {
			return "", err
		}
		c.b = b
	}
	start := time.Now()
	fmt.Fprintf(c.log, "building code mutant %s (%s: %s)\n", name, m.Policy, m.Bug)
	bin, err := c.b.Build(ctx, m)
	if err == nil {
		fmt.Fprintf(c.log, "  built in %s\n", time.Since(start).Round(100*time.Millisecond))
	}
	return bin, err
}

func (c *codeBuilds) close() {
	if err := c.b.Close(); err != nil {
		fmt.Fprintf(c.log, "%v\n", err)
	}
}
