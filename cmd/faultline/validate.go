package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/bounds"
	"github.com/faultline/faultline/system/policy"
)

func init() { commands = append(commands, newValidateCmd) }

func newValidateCmd() *cobra.Command {
	var explain, strict bool
	var profile string
	c := &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Check scenario files strictly, reporting every problem as FILE:LINE:COL",
		Long: `Parse and validate scenario files without running anything: unknown keys, wrong types,
unknown edges, components and faults, bad fault parameters, overlapping faults on one target,
faults outside the duration, unparsable thresholds and references to unknown streams are all
reported, each as FILE:LINE:COL: what was expected. A directory means its *.yaml and *.yml files.

Each latency threshold is also held against the worst latency the scenario's resilience
profile allows on the gateway route its stream reaches (timeouts, attempts, backoffs and
bulkhead waits, per route; docs/scenario-format.md "Design bounds"): a threshold looser than
that cannot fail by slowness alone, and is warned about on stderr as FILE:LINE:COL: warning.
--explain prints, per load stream, the route, the derivation of its worst case and each
threshold against it.

Prints "ok FILE" for each valid file. Exit code 2 when any file is invalid; 1 with --strict
when there is a warning; else 0.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := scenarioFiles(args)
			if err != nil {
				return usageError{err}
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			bad, warned := 0, 0
			for _, f := range files {
				sc, err := scenarios.ParseFile(f)
				if err != nil {
					bad++
					fmt.Fprintln(errOut, err)
					continue
				}
				fmt.Fprintln(out, "ok", f)
				warned += checkBounds(out, errOut, sc, profile, explain)
			}
			switch {
			case bad > 0:
				return usageError{fmt.Errorf("validate: %d of %d files invalid", bad, len(files))}
			case strict && warned > 0:
				word := "warnings"
				if warned == 1 {
					word = "warning"
				}
				fmt.Fprintf(errOut, "faultline: validate: %d %s with --strict\n", warned, word)
				return errMismatch
			}
			return nil
		},
	}
	c.Flags().BoolVar(&explain, "explain", false, "print each stream's route, the derivation of its worst-case latency and each threshold against it")
	c.Flags().BoolVar(&strict, "strict", false, "exit 1 when a threshold is looser than the design bound (or no bound could be derived)")
	c.Flags().StringVar(&profile, "profile", "", "derive the bounds for this profile instead of each file's: default, aggressive, none, a mutant or a YAML path")
	return c
}

// checkBounds warns, on errOut, about each threshold of sc looser than its stream's design
// bound and, with explain, prints how each bound follows from the profile. It returns the
// number of warnings.
func checkBounds(out, errOut io.Writer, sc *scenarios.Scenario, profile string, explain bool) int {
	if profile == "" {
		profile = sc.Profile
	}
	p, err := policy.Load(profile)
	if err != nil {
		fmt.Fprintf(errOut, "%s: warning: design bounds not derived: %v\n", sc.File, err)
		return 1
	}
	streams := bounds.Check(sc, p)
	if explain {
		printBounds(out, sc, p, streams)
	}
	n := 0
	for _, s := range streams {
		for _, t := range s.Thresholds {
			if t.Status == bounds.Looser {
				n++
				fmt.Fprintf(errOut, "%s:%d:%d: warning: %s\n", sc.File, t.Pos.Line, t.Pos.Col, s.Warning(t))
			}
		}
	}
	return n
}

// printBounds is --explain: per stream, the route, the derivation and each threshold.
func printBounds(w io.Writer, sc *scenarios.Scenario, p *policy.Profile, streams []bounds.Stream) {
	fmt.Fprintf(w, "  profile %s\n", p.Name)
	open, held := bounds.Effects(sc.Faults)
	if open != "" {
		fmt.Fprintf(w, "  fault: %s: no design bound holds\n", open)
	}
	byFault := map[string][]string{}
	for _, e := range slices.Sorted(maps.Keys(held)) {
		byFault[held[e]] = append(byFault[held[e]], e)
	}
	for _, f := range slices.Sorted(maps.Keys(byFault)) {
		fmt.Fprintf(w, "  fault: %s: only the caller's timeout bounds %s\n", f, strings.Join(byFault[f], ", "))
	}
	for _, s := range streams {
		route := "no guarded route"
		if s.Route != "" {
			route = "route " + s.Route
		}
		fmt.Fprintf(w, "  stream %s: %s -> %s\n", s.Name, s.Request, route)
		if s.Route != "" {
			for _, l := range s.Chain.Lines() {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		fmt.Fprintf(w, "    longest answer: %s, + %s tolerance = %s\n", s.LimitBy, s.Tolerance, s.Limit+s.Tolerance)
		for _, t := range s.Thresholds {
			fmt.Fprintf(w, "    %-11s %s (%s)\n", t.Status, t.Raw, strings.Join(t.Phases, ", "))
		}
	}
}

// scenarioFiles expands directories into their scenario files, sorted.
func scenarioFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(a, pat))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, errors.New("validate: no *.yaml or *.yml files in " + a)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}
