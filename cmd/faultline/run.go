package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/rundir"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/runner"
)

func init() { commands = append(commands, newRunCmd) }

type runOptions struct {
	profile      string
	out          string
	allowRemote  bool
	otlpForward  string
	plain        bool
	retryInvalid int
	expect       string
	target       string // see run_target.go
	console      bool   // see run_console.go
	consoleAddr  string
}

func newRunCmd() *cobra.Command {
	var o runOptions
	c := &cobra.Command{
		Use:   "run FILE|DIR...",
		Short: "Run scenarios, each on a fresh system, and judge them",
		Long: `Run one or more scenario files (a directory means every *.yaml in it), each on a freshly
started system, and print a final table. Every run writes a directory with the resolved
scenario, raw load samples (samples.csv), spans (spans.jsonl), component logs, results.json,
junit.xml, summary.md and report.html.

Exit codes: 0 every verdict as expected, 1 at least one not as expected, 2 bad usage or an
invalid scenario file (nothing is run then).`,
		Example: `  faultline run scenarios/smoke.yaml
  faultline run --profile none --expect fail scenarios/smoke.yaml   # the negative control
  faultline run --out /tmp/runs scenarios/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScenarios(cmd.Context(), cmd.OutOrStdout(), args, o)
		},
	}
	c.Flags().StringVar(&o.profile, "profile", "", "resilience profile for every scenario (overrides the files'): default, aggressive, none, a mutant or a YAML path")
	c.Flags().StringVar(&o.out, "out", "", "run directory (default runs/<scenario>-<time>; with several scenarios, one subdirectory each)")
	c.Flags().BoolVar(&o.allowRemote, "allow-remote", false, "allow a load target that is not loopback")
	c.Flags().StringVar(&o.otlpForward, "otlp-forward", "", "also forward every span to this OTLP/HTTP endpoint (your collector or Jaeger)")
	c.Flags().BoolVar(&o.plain, "plain", false, "plain progress lines even on a terminal")
	c.Flags().IntVar(&o.retryInvalid, "retry-invalid", 1, "repeat a run whose measurement was invalid (load generator starved) up to N times; a fail is never repeated")
	c.Flags().StringVar(&o.expect, "expect", "", "override the expected verdict (pass or fail), e.g. fail for a negative control")
	addTargetFlag(c, &o)
	addConsoleFlags(c, &o)
	return c
}

// parseScenarios parses every file before anything runs, so a typo in the fifth file does not
// waste the first four runs.
func parseScenarios(args []string) ([]*scenarios.Scenario, error) {
	files, err := scenarioFiles(args)
	if err != nil {
		return nil, usageError{err}
	}
	var out []*scenarios.Scenario
	var errs []error
	for _, f := range files {
		sc, err := scenarios.ParseFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sc)
	}
	if len(errs) > 0 {
		return nil, usageError{errors.Join(errs...)}
	}
	return out, nil
}

func runScenarios(ctx context.Context, stdout io.Writer, args []string, o runOptions) error {
	if o.expect != "" && o.expect != reports.VerdictPass && o.expect != reports.VerdictFail {
		return usageError{fmt.Errorf("--expect %q: want pass or fail", o.expect)}
	}
	start, err := startFor(o)
	if err != nil {
		return usageError{err}
	}
	if err := checkConsole(o, start != nil); err != nil {
		return usageError{err}
	}
	if o.console {
		o.retryInvalid = 0 // a run someone acted on is not silently run again
	}
	scs, err := parseScenarios(args)
	if err != nil {
		return err
	}
	stamp := time.Now().Format("20060102-150405")
	var results []*reports.Results
	var dirs []string
	for _, sc := range scs {
		dir := runDir(o.out, sc.Name, stamp, len(scs) > 1)
		res, err := runner.Run(ctx, runner.Options{
			Scenario: sc, Profile: o.profile, OutDir: dir, Log: stdout,
			Terminal: !o.plain && isTerminal(stdout), AllowRemote: loadMayLeaveLoopback(o), Start: start, OTLPForward: o.otlpForward, ExpectVerdict: o.expect, RetryInvalid: o.retryInvalid,
			Watch: consoleWatch(o, stdout),
		})
		if err != nil && res == nil {
			return err
		}
		if err != nil {
			fmt.Fprintf(stdout, "  writing the run directory: %v\n", err)
		}
		printVerdict(stdout, res, dir)
		results = append(results, res)
		dirs = append(dirs, dir)
		if ctx.Err() != nil {
			break
		}
	}
	allOK := printTable(stdout, results, dirs)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if !allOK {
		return errMismatch
	}
	return nil
}

func runDir(out, name, stamp string, many bool) string {
	switch {
	case out == "":
		return filepath.Join("runs", name+"-"+stamp)
	case many:
		return filepath.Join(out, name)
	}
	return out
}

func printVerdict(w io.Writer, res *reports.Results, dir string) {
	mark := "as expected"
	if !res.AsExpected {
		mark = "NOT as expected (expected " + res.ExpectedVerdict + ")"
	}
	fmt.Fprintf(w, "■ %s: %s — %s\n", res.Scenario, strings.ToUpper(res.Verdict), mark)
	for _, r := range res.Reasons {
		fmt.Fprintf(w, "    %s\n", r)
	}
	fmt.Fprintf(w, "  report: %s\n\n", filepath.Join(dir, rundir.ReportFile))
}

// printTable prints one line per run and says whether every verdict was as expected.
func printTable(w io.Writer, results []*reports.Results, dirs []string) bool {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tPROFILE\tVERDICT\tEXPECTED\tAS EXPECTED\tTIME\tRUN DIR")
	ok := true
	for i, r := range results {
		yes := "yes"
		if !r.AsExpected {
			yes, ok = "NO", false
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0fs\t%s\n", r.Scenario, r.Profile, r.Verdict, r.ExpectedVerdict, yes, r.DurationS, dirs[i])
	}
	tw.Flush()
	return ok
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
