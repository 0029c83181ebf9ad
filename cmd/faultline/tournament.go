package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html"
	"github.com/faultline/faultline/reports/rundir"
	"github.com/faultline/faultline/reports/tournament"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/runner"
	"github.com/faultline/faultline/system/policy"
)

func init() { commands = append(commands, newTournamentCmd) }

// runSeeded runs one scenario with one profile and seed into dir: the runner, replaced in tests.
var runSeeded = func(ctx context.Context, file, profile string, seed int64, dir string, log io.Writer) (*reports.Results, error) {
	sc, err := scenarios.ParseFile(file)
	if err != nil {
		return nil, err
	}
	sc.Seed = seed
	return runner.Run(ctx, runner.Options{Scenario: sc, Profile: profile, OutDir: dir, Log: log, RetryInvalid: 1})
}

type tournamentOptions struct {
	out      string
	profiles string
	repeat   int
	resume   bool
}

func newTournamentCmd() *cobra.Command {
	var o tournamentOptions
	c := &cobra.Command{
		Use:   "tournament --profiles a,b[,c] [--repeat N] SCENARIO...",
		Short: "Rank resilience profiles on the same scenarios, seeded load and fault schedule",
		Long: `Run every profile on every scenario, --repeat times each (repeat i of every profile uses the
scenario's seed + i - 1, so the profiles face the same load and fault schedule), each run on a fresh
system, one after the other. Then rank the profiles per scenario on: goodput in the fault phase,
SLO-seconds violated, retry amplification (attempts on the busiest edge ÷ client requests, from
traces), time to recover (last heal to SLOs held again), user impact, data lost, and the p99 of
successful requests. A profile is called best only outside the noise of the repeats (min–max ranges
do not overlap); otherwise "within noise". Use --repeat 2 or more for calls you can trust.

Writes tournament.md and tournament.html (a table per scenario, the overall ranking, the p99 charts
of every run overlaid) and each run's own directory under --out/runs.

With --resume, a run already finished in --out/runs (its results.json there, the same profile and
seed, and the scenario resolved exactly as the file resolves now) is read instead of run again:
an interrupted tournament goes on where it stopped, and old runs are ranked again by the current
rules. A run whose scenario file or profile changed since (its settings, compared by content:
results.json's profile_digest) is run again.
Exit codes: 0 ranked; 1 some run failed or none could be ranked; 2 bad flags or scenario files.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTournament(cmd.Context(), args, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.out, "out", "", "output directory (default tournament-<time>)")
	f.StringVar(&o.profiles, "profiles", "", "profiles to rank, comma-separated (built-in names or YAML paths); at least two")
	f.IntVar(&o.repeat, "repeat", 2, "runs per profile and scenario (1..20); the noise rule needs 2 or more")
	f.BoolVar(&o.resume, "resume", false, "read runs already finished in --out (same scenario, profile and seed) instead of running them again")
	return c
}

func runTournament(ctx context.Context, args []string, o tournamentOptions, stdout, stderr io.Writer) error {
	profiles := splitList(o.profiles)
	switch {
	case len(profiles) < 2:
		return usageError{errors.New("tournament: --profiles needs at least two profiles, e.g. --profiles default,adaptive")}
	case o.repeat < 1 || o.repeat > maxRepeat:
		return usageError{fmt.Errorf("tournament: --repeat must be 1..%d", maxRepeat)}
	case len(profiles)*len(args)*o.repeat > maxCompared:
		return usageError{fmt.Errorf("tournament: %d runs asked, at most %d", len(profiles)*len(args)*o.repeat, maxCompared)}
	}
	for _, p := range profiles {
		if _, err := policy.Load(p); err != nil {
			return usageError{fmt.Errorf("tournament: %w", err)}
		}
	}
	plan := tournament.Plan{Profiles: profiles, Scenarios: args, Repeat: o.repeat, Seeds: map[string]int64{}, Out: o.out}
	for _, a := range args {
		sc, err := scenarios.ParseFile(a)
		if err != nil {
			return usageError{fmt.Errorf("tournament: %w", err)}
		}
		plan.Seeds[a] = sc.Seed
	}
	if plan.Out == "" {
		plan.Out = "tournament-" + time.Now().UTC().Format("20060102-150405")
	}
	started := time.Now()
	run := runSeeded
	if o.resume {
		run = func(ctx context.Context, file, profile string, seed int64, dir string, log io.Writer) (*reports.Results, error) {
			res, why := finishedRun(file, profile, seed, dir)
			if res != nil {
				fmt.Fprintf(log, "tournament: --resume: read the finished run in %s\n", dir)
				return res, nil
			}
			if why != "" {
				fmt.Fprintf(log, "tournament: --resume: running %s again: %s\n", dir, why)
			}
			return runSeeded(ctx, file, profile, seed, dir, log)
		}
	}
	runs, err := tournament.Play(ctx, plan, run, func(dir string) ([]rundir.Sample, error) {
		if err := html.RenderDir(dir); err != nil {
			fmt.Fprintf(stderr, "tournament: %s: %v\n", dir, err)
		}
		run, err := rundir.Load(dir)
		if err != nil {
			return nil, err
		}
		return run.Samples, nil
	}, stderr)
	if err != nil && len(runs) == 0 {
		return err
	}
	rk := tournament.Rank(profiles, runs)
	var mb, hb bytes.Buffer
	if err := rk.Markdown(&mb); err != nil {
		return err
	}
	if err := rk.HTML(&hb); err != nil {
		return err
	}
	mp, hp := filepath.Join(plan.Out, "tournament.md"), filepath.Join(plan.Out, "tournament.html")
	for path, b := range map[string][]byte{mp: mb.Bytes(), hp: hb.Bytes()} {
		if err := writeFileAtomic(path, b); err != nil {
			return fmt.Errorf("tournament: %w", err)
		}
	}
	fmt.Fprintf(stdout, "%s\n%s\n", hp, mp)
	fmt.Fprintf(stderr, "tournament: %d runs in %s\n", len(runs), time.Since(started).Round(time.Second))
	failed := 0
	for _, r := range runs {
		if ok, why := r.Usable(); !ok {
			failed++
			fmt.Fprintf(stderr, "tournament: not counted: %s × %s repeat %d: %s\n", filepath.Base(r.Scenario), r.Profile, r.Repeat, why)
		}
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return errMismatch
	}
	return nil
}

// finishedRun is the run in dir when it finished with this profile and seed on the scenario
// file as it resolves now; otherwise nil and why (empty when dir holds no run at all).
func finishedRun(file, profile string, seed int64, dir string) (*reports.Results, string) {
	prev, err := rundir.Load(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ""
	}
	if err != nil {
		return nil, err.Error()
	}
	if prev.Results.Profile != profile || prev.Results.Seed != seed {
		return nil, fmt.Sprintf("it ran profile %s with seed %d", prev.Results.Profile, prev.Results.Seed)
	}
	sc, err := scenarios.ParseFile(file)
	if err != nil {
		return nil, err.Error()
	}
	sc.Seed = seed
	now, err := sc.ResolvedYAML()
	if err != nil {
		return nil, err.Error()
	}
	if !bytes.Equal(now, prev.Scenario) {
		return nil, "the scenario changed since it ran"
	}
	if p, err := policy.Load(profile); err != nil {
		return nil, err.Error()
	} else if d := policy.Digest(p); prev.Results.ProfileDigest != d {
		return nil, "the profile changed since it ran"
	}
	return prev.Results, ""
}
