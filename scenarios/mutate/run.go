package mutate

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
)

// RunFunc runs one scenario with a profile on a faultline binary ("" = the default one),
// expecting a verdict, into dir; it always returns results (an error verdict when it could
// not run).
type RunFunc func(ctx context.Context, sc *scenarios.Scenario, profile, binary, expect, dir string) *reports.Results

// BinaryFunc returns the faultline binary with a code mutant's bug (name without CodePrefix).
type BinaryFunc func(ctx context.Context, name string) (string, error)

// Execute runs every scenario with its own profile, then each planned mutant Repeat times,
// judging each run against the own run with verdict.JudgeKill; the repeats of a mutant stop
// at the first run that did not catch it (it can no longer be caught every time). A code
// mutant runs the scenario's own profile on the binary binary builds. With Mutants named or
// OnlyCode, a scenario no mutant is planned on does not run at all. It stops early, keeping what it
// has, when ctx ends. Run directories are out/<scenario>/<label>[/<repeat>].
func Execute(ctx context.Context, scs []*scenarios.Scenario, o Options, out string, run RunFunc, binary BinaryFunc) []Row {
	plan := Plan(scs, o)
	repeat := max(o.Repeat, 1)
	var rows []Row
	for _, sc := range scs {
		if ctx.Err() != nil {
			break
		}
		if (len(o.Mutants) > 0 || o.OnlyCode) && len(plan[sc]) == 0 {
			continue
		}
		row := Row{Scenario: sc, Own: run(ctx, sc, sc.Profile, "", reports.VerdictPass, filepath.Join(out, sc.Name, sc.Profile))}
		// Mutants run even when the own run failed: a kill is judged against the checks that
		// did hold, and the own fail makes the whole measurement not as expected anyway.
		for _, m := range plan[sc] {
			if ctx.Err() != nil {
				break
			}
			k := Kill{Mutant: m}
			label, profile, bin := m, m, ""
			name, isCode := strings.CutPrefix(m, CodePrefix)
			if isCode {
				label, profile = "code-"+name, sc.Profile
				var err error
				if bin, err = binary(ctx, name); err != nil {
					k.Runs = append(k.Runs, verdict.Kill{Outcome: verdict.Errored, Because: []string{err.Error()}})
					row.Kills = append(row.Kills, k)
					continue
				}
			}
			for i := range repeat {
				if ctx.Err() != nil {
					break
				}
				dir := filepath.Join(out, sc.Name, label)
				if repeat > 1 {
					dir = filepath.Join(dir, strconv.Itoa(i+1))
				}
				kill := verdict.JudgeKill(row.Own, run(ctx, sc, profile, bin, reports.VerdictFail, dir))
				k.Runs = append(k.Runs, kill)
				k.Dirs = append(k.Dirs, dir)
				if kill.Outcome != verdict.Caught {
					break
				}
			}
			row.Kills = append(row.Kills, k)
		}
		rows = append(rows, row)
	}
	return rows
}
