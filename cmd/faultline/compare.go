package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/compare"
	"github.com/faultline/faultline/reports/html"
	"github.com/faultline/faultline/reports/rundir"
	"github.com/faultline/faultline/scenarios/runner"
)

func init() { commands = append(commands, newCompareCmd) }

// runScenario runs one scenario with one profile into outDir: the scenario runner, replaced in
// tests. When it is nil, compare works on finished runs only.
var runScenario = func(ctx context.Context, file, profile, outDir string, log io.Writer) (*reports.Results, error) {
	return runner.Run(ctx, runner.Options{File: file, Profile: profile, OutDir: outDir, Log: log})
}

// Bounds that keep a compare invocation finite.
const (
	maxRepeat   = 20
	maxCompared = 60
)

type compareOptions struct {
	out         string
	labels      string
	profiles    string
	repeat      int
	sweep       string
	edge        string
	baseProfile string
}

func newCompareCmd() *cobra.Command {
	var o compareOptions
	c := &cobra.Command{
		Use:   "compare RUN_DIR... | compare SCENARIO --profiles a,b [--repeat N] | compare SCENARIO --sweep PARAM=v1,v2",
		Short: "Compare runs side by side: finished run directories, or a scenario run under several profiles",
		Long: `Compare finished runs (each argument a run directory), or run one scenario under several
profiles (--profiles), optionally repeated (--repeat N), or under a sweep of one profile parameter
(--sweep "circuit_breaker.failure_ratio=0.3,0.5,0.8" [--edge redirect->link]), derived from
--base-profile. Writes compare.html and compare.md into --out.

Runs sharing a label (a profile) are repeats: the comparison shows their mean and range and calls a
winner only when ranges do not overlap; otherwise it says "within noise".`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompare(cmd.Context(), args, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.out, "out", "", "output directory (default compare-<time> in the current directory)")
	f.StringVar(&o.labels, "labels", "", "labels of finished runs, comma-separated (default: each run's profile)")
	f.StringVar(&o.profiles, "profiles", "", "profiles to run SCENARIO under, comma-separated (names or YAML paths)")
	f.IntVar(&o.repeat, "repeat", 1, "runs per profile or sweep value")
	f.StringVar(&o.sweep, "sweep", "", `profile parameter and values, e.g. "circuit_breaker.failure_ratio=0.3,0.5,0.8"`)
	f.StringVar(&o.edge, "edge", "", "edge the swept parameter applies to (default: every edge that has it)")
	f.StringVar(&o.baseProfile, "base-profile", "default", "profile the sweep starts from: a built-in name or a YAML path")
	return c
}

func runCompare(ctx context.Context, args []string, o compareOptions, stdout, stderr io.Writer) error {
	if o.out == "" {
		o.out = "compare-" + time.Now().UTC().Format("20060102-150405")
	}
	scenarioForm := len(args) == 1 && isScenarioFile(args[0])
	switch {
	case scenarioForm && o.profiles == "" && o.sweep == "":
		return usageError{errors.New("compare: a scenario needs --profiles a,b or --sweep PARAM=v1,v2")}
	case !scenarioForm && (o.profiles != "" || o.sweep != ""):
		return usageError{errors.New("compare: --profiles and --sweep need one scenario file, not run directories")}
	case o.profiles != "" && o.sweep != "":
		return usageError{errors.New("compare: --profiles and --sweep exclude each other")}
	case o.repeat < 1 || o.repeat > maxRepeat:
		return usageError{fmt.Errorf("compare: --repeat must be 1..%d", maxRepeat)}
	}
	var runs []*reports.Results
	var labels []string
	var samples [][]rundir.Sample
	var err error
	failed := 0
	if scenarioForm {
		runs, labels, samples, failed, err = runProfiles(ctx, args[0], o, stderr)
	} else {
		runs, labels, samples, err = loadRuns(args, o.labels)
	}
	if err != nil {
		return err
	}
	c := compare.Compare(runs, labels, samples...)
	var hb, mb bytes.Buffer
	if err := c.HTML(&hb); err != nil {
		return err
	}
	if err := c.Markdown(&mb); err != nil {
		return err
	}
	hp, mp := filepath.Join(o.out, "compare.html"), filepath.Join(o.out, "compare.md")
	if err := writeFileAtomic(hp, hb.Bytes()); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	if err := writeFileAtomic(mp, mb.Bytes()); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	fmt.Fprintf(stdout, "%s\n%s\n", hp, mp)
	if failed > 0 {
		fmt.Fprintf(stderr, "compare: %d run(s) failed; the comparison covers the others\n", failed)
		return errMismatch
	}
	return nil
}

func isScenarioFile(p string) bool {
	st, err := os.Stat(p)
	if err != nil || st.IsDir() {
		return false
	}
	ext := strings.ToLower(filepath.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

// loadRuns reads finished run directories; labels default to each run's profile.
func loadRuns(dirs []string, labelFlag string) ([]*reports.Results, []string, [][]rundir.Sample, error) {
	if len(dirs) > maxCompared {
		return nil, nil, nil, usageError{fmt.Errorf("compare: at most %d runs", maxCompared)}
	}
	labels := splitList(labelFlag)
	if len(labels) > 0 && len(labels) != len(dirs) {
		return nil, nil, nil, usageError{fmt.Errorf("compare: %d labels for %d runs", len(labels), len(dirs))}
	}
	var runs []*reports.Results
	var samples [][]rundir.Sample
	for _, d := range dirs {
		run, err := rundir.Load(d)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil, usageError{fmt.Errorf("compare: %s is not a run directory (no %s): %w", d, rundir.ResultsFile, fs.ErrNotExist)}
		}
		if err != nil {
			return nil, nil, nil, usageError{fmt.Errorf("compare: %w", err)}
		}
		runs = append(runs, run.Results)
		samples = append(samples, run.Samples)
	}
	if labels == nil {
		labels = make([]string, len(runs))
	}
	return runs, labels, samples, nil
}

// runProfiles runs the scenario under every profile or sweep value, repeat times each, and
// renders each run's own report as it finishes.
func runProfiles(ctx context.Context, file string, o compareOptions, stderr io.Writer) ([]*reports.Results, []string, [][]rundir.Sample, int, error) {
	vs := compare.ProfileVariants(splitList(o.profiles))
	if o.sweep != "" {
		var err error
		if vs, err = sweepProfiles(o.sweep, o.edge, o.baseProfile, filepath.Join(o.out, "profiles")); err != nil {
			return nil, nil, nil, 0, err
		}
	}
	if len(vs)*o.repeat > maxCompared {
		return nil, nil, nil, 0, usageError{fmt.Errorf("compare: %d runs asked, at most %d", len(vs)*o.repeat, maxCompared)}
	}
	if runScenario == nil {
		return nil, nil, nil, 0, errors.New("compare: runner not available in this build: compare finished run directories instead (faultline compare RUN_DIR...)")
	}
	var runs []*reports.Results
	var labels []string
	var samples [][]rundir.Sample
	var failed []string
	for _, v := range vs {
		for i := 1; i <= o.repeat; i++ {
			if err := ctx.Err(); err != nil {
				return nil, nil, nil, 0, fmt.Errorf("compare: %w", err)
			}
			dir := v.RunDir(o.out, i)
			fmt.Fprintf(stderr, "compare: %s run %d/%d → %s\n", v.Label, i, o.repeat, dir)
			res, err := runScenario(ctx, file, v.Profile, dir, stderr)
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s #%d: %v", v.Label, i, err))
				if res == nil {
					continue
				}
			}
			if err := html.RenderDir(dir); err != nil {
				fmt.Fprintf(stderr, "compare: %s: %v\n", dir, err)
			}
			var s []rundir.Sample
			if run, err := rundir.Load(dir); err == nil {
				s = run.Samples
			}
			runs, labels, samples = append(runs, res), append(labels, v.Label), append(samples, s)
		}
	}
	for _, f := range failed {
		fmt.Fprintln(stderr, "compare: run failed:", f)
	}
	if len(runs) == 0 {
		return nil, nil, nil, len(failed), fmt.Errorf("compare: no run finished (%d failed)", len(failed))
	}
	return runs, labels, samples, len(failed), nil
}

// sweepProfiles reads --sweep's PARAM=v1,v2,… and derives its profiles into dir.
func sweepProfiles(spec, edge, base, dir string) ([]compare.Variant, error) {
	param, list, ok := strings.Cut(spec, "=")
	param = strings.TrimSpace(param)
	values := splitList(list)
	if !ok || param == "" || len(values) == 0 {
		return nil, usageError{fmt.Errorf("compare: --sweep %q: want PARAM=v1,v2,…", spec)}
	}
	vs, err := compare.SweepProfiles(param, values, edge, base, dir)
	if errors.Is(err, compare.ErrSweep) {
		return nil, usageError{err}
	}
	return vs, err
}
