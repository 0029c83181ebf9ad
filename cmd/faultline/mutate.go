package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/atomicfile"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/mutate"
	"github.com/faultline/faultline/scenarios/runner"
)

func init() { commands = append(commands, newMutateCmd) }

type mutateOptions struct {
	mutate.Options
	out          string
	plain        bool
	retryInvalid int
	source       string // the faultline module code mutants patch ("" = the one here)
}

func newMutateCmd() *cobra.Command {
	var o mutateOptions
	c := &cobra.Command{
		Use:   "mutate FILE|DIR...",
		Short: "Measure verdict power: run each scenario, then again with each mutant it lists under controls",
		Long: `Run every scenario with its own profile (it must pass), then once with each mutant profile
listed under its controls key (each must fail). A mutant counts as caught only when its run's
measurement is valid and its verdict is not error, and either the verdict is fail and at least
one failing check (an SLO, an expectation, or a policy conformance check) is one that held
in the scenario's own run, is not a baseline-phase SLO and
is not "no data" (without a breaker there is no breaker to observe: that proves nothing), or
the run aborted on an abort_when condition after the fault began that did not stop the own
run: the fault, without that protection, must be what broke it, as measured behaviour. Prints
the kill matrix (scenario × mutant; a caught cell names the kinds of check that caught it:
SLO, blast radius, user impact, mechanisms, data, conformance, abort) and writes it to
OUT/matrix.md, next to one run directory per run (OUT/<scenario>/<profile>).

With --cover each mutant runs once, against the shortest scenario that lists it (ties: by
name), which is what CI needs; without it every listed control of every scenario runs (the
full matrix). Given a directory, a mutant that removes one protection (no-*, unbounded-*)
and is listed by no scenario there is reported uncovered and fails the run.

With --code the scenarios also run against the code mutants they list under code_controls
(scenarios/mutants/*.patch: a small bug in the resilience code each). Each is applied to a
scratch copy of the source tree (--source, default the checkout you are in; never modified),
built into its own faultline binary (once per invocation), and the scenario runs with its
own profile on that binary; it is judged by the same rules and shown as code:NAME in the
matrix. --only-code runs the code mutants without the profile controls (and only the
scenarios listing one). --mutants a,b runs only the named mutants (profile or code). Needs
git and go.

With --repeat N each scenario × mutant runs N times and counts as caught only when every run
caught it (the cell then reads "caught N/N"): a kill that comes and goes is luck, not
verdict power.

Exit codes: 0 every scenario passed and every listed mutant was caught, 1 otherwise,
2 bad usage or an invalid scenario file (nothing is run then).`,
		Example: `  faultline mutate scenarios/
  faultline mutate --cover scenarios/        # each mutant once, on its shortest scenario
  faultline mutate --out /tmp/power scenarios/billing-down.yaml
  faultline mutate --code --mutants outbox-marks-unacked scenarios/nats-down.yaml
  faultline mutate --only-code --cover --repeat 3 scenarios/   # make code-power`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return mutateScenarios(cmd.Context(), cmd.OutOrStdout(), args, o)
		},
	}
	c.Flags().StringVar(&o.out, "out", "", "directory for the runs and matrix.md (default runs/mutate-<time>)")
	c.Flags().BoolVar(&o.plain, "plain", false, "plain progress lines even on a terminal")
	c.Flags().BoolVar(&o.Cover, "cover", false, "run each mutant once, on the shortest scenario listing it (default: every listed control)")
	c.Flags().BoolVar(&o.Code, "code", false, "also run the code mutants each scenario lists under code_controls (scenarios/mutants)")
	c.Flags().BoolVar(&o.OnlyCode, "only-code", false, "run the code mutants only, not the profile controls (implies --code)")
	c.Flags().StringSliceVar(&o.Mutants, "mutants", nil, "run only these mutants, comma-separated (profile or code mutant names)")
	c.Flags().StringVar(&o.source, "source", "", "faultline source tree code mutants are built from (default: the checkout containing the working directory)")
	c.Flags().IntVar(&o.Repeat, "repeat", 1, "run each scenario × mutant N times; it counts as caught only when every run caught it")
	c.Flags().IntVar(&o.retryInvalid, "retry-invalid", 1, "repeat a run whose measurement was invalid (load generator starved) up to N times; a fail is never repeated")
	return c
}

func mutateScenarios(ctx context.Context, stdout io.Writer, args []string, o mutateOptions) error {
	scs, err := parseScenarios(args)
	if err != nil {
		return err
	}
	if err := mutate.CheckNames(o.Options); err != nil {
		return usageError{err}
	}
	var uncovered []string
	if anyDir(args) && len(o.Mutants) == 0 {
		uncovered = mutate.Uncovered(scs, o.Code || o.OnlyCode)
	}
	builds := &mutate.Builds{Source: o.source, Log: stdout}
	defer func() {
		if err := builds.Close(); err != nil {
			fmt.Fprintln(stdout, err)
		}
	}()
	out := o.out
	if out == "" {
		out = filepath.Join("runs", "mutate-"+time.Now().Format("20060102-150405"))
	}
	var (
		results []*reports.Results
		dirs    []string
	)
	run := func(ctx context.Context, sc *scenarios.Scenario, profile, binary, expect, dir string) *reports.Results {
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
	rows := mutate.Execute(ctx, scs, o.Options, out, run, builds.Binary)
	printTable(stdout, results, dirs)
	matrix := mutate.Matrix(rows)
	if o.Cover {
		matrix += "\nRun with --cover: each mutant on the shortest scenario that lists it; `faultline mutate` without it runs every listed control.\n"
	}
	if len(uncovered) > 0 {
		matrix += fmt.Sprintf("\n**Uncovered:** no scenario lists %s under controls.\n", strings.Join(uncovered, ", "))
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, matrix)
	if err := os.MkdirAll(out, 0o755); err == nil {
		if err := atomicfile.WriteFile(filepath.Join(out, "matrix.md"), []byte(matrix), 0o644); err != nil {
			fmt.Fprintf(stdout, "writing the matrix: %v\n", err)
		}
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case len(uncovered) > 0, !mutate.AsExpected(rows):
		return errMismatch
	}
	return nil
}

func anyDir(args []string) bool {
	for _, a := range args {
		if fi, err := os.Stat(a); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}
