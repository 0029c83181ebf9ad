package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/runner"
)

func init() { commands = append(commands, newMutateCmd) }

type mutateOptions struct {
	out          string
	plain        bool
	retryInvalid int
	cover        bool
	code         bool     // also run the code mutants scenarios list under code_controls
	mutants      []string // run only these mutants (profile or code names)
	source       string   // the faultline module code mutants patch ("" = the one here)
}

func newMutateCmd() *cobra.Command {
	var o mutateOptions
	c := &cobra.Command{
		Use:   "mutate FILE|DIR...",
		Short: "Measure verdict power: run each scenario, then again with each mutant it lists under controls",
		Long: `Run every scenario with its own profile (it must pass), then once with each mutant profile
listed under its controls key (each must fail). A mutant counts as caught only when its run's
measurement is valid and its verdict is not error, and either the verdict is fail and at least
one failing check is one that held in the scenario's own run, is not a baseline-phase SLO and
is not "no data" (without a breaker there is no breaker to observe: that proves nothing), or
the run aborted on an abort_when condition after the fault began that did not stop the own
run: the fault, without that protection, must be what broke it, as measured behaviour. Prints
the kill matrix (scenario × mutant; a caught cell names the kinds of check that caught it:
SLO, blast radius, user impact, mechanisms, data, abort) and writes it to OUT/matrix.md, next to one run
directory per run (OUT/<scenario>/<profile>).

With --cover each mutant runs once, against the shortest scenario that lists it (ties: by
name), which is what CI needs; without it every listed control of every scenario runs (the
full matrix). Given a directory, a mutant that removes one protection (no-*, unbounded-*)
and is listed by no scenario there is reported uncovered and fails the run.

With --code the scenarios also run against the code mutants they list under code_controls
(scenarios/mutants/*.patch: a small bug in the resilience code each). Each is applied to a
scratch copy of the source tree (--source, default the checkout you are in; never modified),
built into its own faultline binary (once per invocation), and the scenario runs with its
own profile on that binary; it is judged by the same rules and shown as code:NAME in the
matrix. --mutants a,b runs only the named mutants (profile or code). Needs git and go.

Exit codes: 0 every scenario passed and every listed mutant was caught, 1 otherwise,
2 bad usage or an invalid scenario file (nothing is run then).`,
		Example: `  faultline mutate scenarios/
  faultline mutate --cover scenarios/        # each mutant once, on its shortest scenario
  faultline mutate --out /tmp/power scenarios/billing-down.yaml
  faultline mutate --code --mutants outbox-marks-unacked scenarios/nats-down.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return mutateScenarios(cmd.Context(), cmd.OutOrStdout(), args, o)
		},
	}
	c.Flags().StringVar(&o.out, "out", "", "directory for the runs and matrix.md (default runs/mutate-<time>)")
	c.Flags().BoolVar(&o.plain, "plain", false, "plain progress lines even on a terminal")
	c.Flags().BoolVar(&o.cover, "cover", false, "run each mutant once, on the shortest scenario listing it (default: every listed control)")
	c.Flags().BoolVar(&o.code, "code", false, "also run the code mutants each scenario lists under code_controls (scenarios/mutants)")
	c.Flags().StringSliceVar(&o.mutants, "mutants", nil, "run only these mutants, comma-separated (profile or code mutant names)")
	c.Flags().StringVar(&o.source, "source", "", "faultline source tree code mutants are built from (default: the checkout containing the working directory)")
	c.Flags().IntVar(&o.retryInvalid, "retry-invalid", 1, "repeat a run whose measurement was invalid (load generator starved) up to N times; a fail is never repeated")
	return c
}

// kill is one scenario × mutant run, judged.
type kill struct {
	mutant string
	verdict.Kill
	dir string
}

// powerRow is one scenario: its own run and its mutant runs.
type powerRow struct {
	sc    *scenarios.Scenario
	own   *reports.Results
	kills []kill
}

func mutateScenarios(ctx context.Context, stdout io.Writer, args []string, o mutateOptions) error {
	scs, err := parseScenarios(args)
	if err != nil {
		return err
	}
	if err := checkMutantNames(o); err != nil {
		return err
	}
	plan := planMutants(scs, o)
	var uncovered []string
	if anyDir(args) && len(o.mutants) == 0 {
		uncovered = uncoveredMutants(scs)
		if o.code {
			uncovered = append(uncovered, uncoveredCode(scs)...)
		}
	}
	builds := &codeBuilds{source: o.source, log: stdout}
	defer builds.close()
	out := o.out
	if out == "" {
		out = filepath.Join("runs", "mutate-"+time.Now().Format("20060102-150405"))
	}
	var (
		rows    []powerRow
		results []*reports.Results
		dirs    []string
	)
	one := func(sc *scenarios.Scenario, profile, label, binary, expect string) *reports.Results {
		dir := filepath.Join(out, sc.Name, label)
		res, err := runner.Run(ctx, runner.Options{
			Scenario: sc, Profile: profile, OutDir: dir, Log: stdout, Binary: binary,
			Terminal: !o.plain && isTerminal(stdout), ExpectVerdict: expect, RetryInvalid: o.retryInvalid,
		})
		if err != nil && res == nil {
			res = &reports.Results{Scenario: sc.Name, Profile: profile, Verdict: reports.VerdictError,
				ExpectedVerdict: expect, Reasons: []string{err.Error()}}
		} else if err != nil {
			fmt.Fprintf(stdout, "  writing the run directory: %v\n", err)
		}
		printVerdict(stdout, res, dir)
		results = append(results, res)
		dirs = append(dirs, dir)
		return res
	}
	for _, sc := range scs {
		row := powerRow{sc: sc, own: one(sc, sc.Profile, sc.Profile, "", reports.VerdictPass)}
		for _, m := range plan[sc] {
			if ctx.Err() != nil {
				break
			}
			// Run even when the own run failed: a kill is judged against the checks that did
			// hold, and the exit code fails on the own run anyway.
			k := kill{mutant: m, dir: filepath.Join(out, sc.Name, m)}
			if name, isCode := strings.CutPrefix(m, codePrefix); isCode {
				// A code mutant runs the scenario's own profile on a binary built with its bug.
				k.dir = filepath.Join(out, sc.Name, "code-"+name)
				bin, err := builds.binary(ctx, m)
				if err != nil {
					k.Kill = verdict.Kill{Outcome: verdict.Errored, Because: []string{err.Error()}}
				} else {
					k.Kill = verdict.JudgeKill(row.own, one(sc, sc.Profile, "code-"+name, bin, reports.VerdictFail))
				}
			} else {
				k.Kill = verdict.JudgeKill(row.own, one(sc, m, m, "", reports.VerdictFail))
			}
			row.kills = append(row.kills, k)
		}
		rows = append(rows, row)
		if ctx.Err() != nil {
			break
		}
	}
	printTable(stdout, results, dirs)
	matrix := killMatrix(rows)
	if o.cover {
		matrix += "\nRun with --cover: each mutant on the shortest scenario that lists it; `faultline mutate` without it runs every listed control.\n"
	}
	if len(uncovered) > 0 {
		matrix += fmt.Sprintf("\n**Uncovered:** no scenario lists %s under controls.\n", strings.Join(uncovered, ", "))
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, matrix)
	if err := os.MkdirAll(out, 0o755); err == nil {
		err = os.WriteFile(filepath.Join(out, "matrix.md"), []byte(matrix), 0o644)
		if err != nil {
			fmt.Fprintf(stdout, "writing the matrix: %v\n", err)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if len(uncovered) > 0 {
		return errMismatch
	}
	for _, r := range rows {
		if r.own.Verdict != reports.VerdictPass {
			return errMismatch
		}
		for _, k := range r.kills {
			if k.Outcome != verdict.Caught {
				return errMismatch
			}
		}
	}
	return nil
}

// planControls picks the mutants each scenario runs: all it lists, or with cover each mutant
// only on the shortest scenario listing it (ties broken by name, so the plan is stable).
func planControls(scs []*scenarios.Scenario, cover bool) map[*scenarios.Scenario][]string {
	return planLists(scs, cover, func(sc *scenarios.Scenario) []string { return sc.Controls })
}

// planLists is planControls over the mutants list gives for each scenario.
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

// uncoveredMutants lists the built-in mutants that remove one protection (no-*,
// unbounded-*) and that no scenario lists: a protection the catalogue cannot vouch for.
func uncoveredMutants(scs []*scenarios.Scenario) []string {
	listed := map[string]bool{}
	for _, sc := range scs {
		for _, m := range sc.Controls {
			listed[m] = true
		}
	}
	var out []string
	for _, m := range scenarios.Mutants() {
		if (strings.HasPrefix(m, "no-") || strings.HasPrefix(m, "unbounded-")) && !listed[m] {
			out = append(out, m)
		}
	}
	return out
}

func anyDir(args []string) bool {
	for _, a := range args {
		if fi, err := os.Stat(a); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// killMatrix renders the matrix as Markdown: one row per scenario, one column per mutant any
// scenario lists, then the reasons each kill was credited to.
func killMatrix(rows []powerRow) string {
	var mutants []string
	for _, r := range rows {
		for _, k := range r.kills {
			if !slices.Contains(mutants, k.mutant) {
				mutants = append(mutants, k.mutant)
			}
		}
	}
	slices.Sort(mutants)
	var b strings.Builder
	b.WriteString("| scenario | own profile |")
	for _, m := range mutants {
		fmt.Fprintf(&b, " %s |", m)
	}
	b.WriteString("\n|---|---|")
	for range mutants {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	caught, listed := map[string]int{}, map[string]int{}
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s %s |", r.sc.Name, r.own.Profile, r.own.Verdict)
		for _, m := range mutants {
			cell := "·"
			for _, k := range r.kills {
				if k.mutant == m {
					cell = k.Outcome
					listed[m]++
					if k.Outcome == verdict.Caught {
						caught[m]++
						cell += " (" + strings.Join(k.By, ", ") + ")"
					}
				}
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("| **caught by** | |")
	for _, m := range mutants {
		fmt.Fprintf(&b, " %d/%d |", caught[m], listed[m])
	}
	b.WriteString("\n\n`·` = not listed in the scenario's controls; a caught cell names the kinds of check that caught it. Why each listed mutant was (or was not) caught:\n\n")
	for _, r := range rows {
		for _, k := range r.kills {
			fmt.Fprintf(&b, "- %s × %s: %s — %s\n", r.sc.Name, k.mutant, k.Outcome, strings.Join(k.Because, "; "))
		}
	}
	return b.String()
}
