package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/explore"
	explorerun "github.com/faultline/faultline/scenarios/explore/run"
	"github.com/faultline/faultline/system/policy"
)

func init() { commands = append(commands, newExploreCmd) }

type exploreOptions struct {
	profile  string
	profiles string
	budget   string
	pairs    bool
	seed     uint64
	out      string
	dryRun   bool
	pathMap  string
	targets  []string
	classes  []string
	only     []string
	group    int
}

func newExploreCmd() *cobra.Command {
	var o exploreOptions
	c := &cobra.Command{
		Use:   "explore [SCENARIO]",
		Short: "Search the fault space for weak spots nobody wrote a scenario for",
		Long: `Explore every single fault on every edge and component the system's traces show in use,
and with --pairs every two faults that lie on one stream's path (the queue path included: a
link created now is an event analytics applies later).

SCENARIO gives the load and the SLOs (its faults are ignored); without it, a built-in steady
mix of redirects, creations and stats reads. A baseline run of that load learns, from the
spans, which edges and components each stream touches. The fault vocabulary follows from the
profile: per edge, latency 1.5x the caller's timeout (beyond it) and 0.5x (a gray slowdown),
blackhole (a partition), refused and reset connections, bandwidth starvation; per component, crash with restart and
pause; per stream of the load, a surge (4x its rate in the fault phase, judged on goodput and
the admitted requests' latency), tried in pairs with a mild latency (0.1x the caller's
timeout, there for the whole experiment: it only costs capacity). Each experiment is a generated scenario (baseline, fault, recovery: each as long as its
checks need at the load's rates; the built-in mix: 2.5 s each) judged
like any other run: SLOs, data safety from the client's side, blast radius from traces. One
running system is reused between experiments; a fresh one follows a store crash, lost data
or a system that is not healthy after the heal.

Reductions: faults off every stream's path, the load generator's own edge, two faults on one
target, an edge below a crashed or paused caller, targets never on one path, a mild latency
without a surge; while running, a
single that already breaks a stream removes that stream from its pairs; outcomes with equal
signatures are collapsed in the report.

Writes DIR/report.html, summary.md, explore.json, and for each weak spot a scenario file
in DIR/scenarios/ whose expectations are what the design should guarantee.
--dry-run prints the plan and what was pruned and why, without a system: the paths come
from --paths (a pathmap.json of an earlier exploration), DIR/pathmap.json when present, or
the map recorded from a real run.

Ctrl-C heals the running fault, writes the report of what finished and exits 1.

Exit codes: 0 explored, no weak spot; 1 weak spots found (or a profile has weak spots the
other lacks), interrupted, or the run failed; 2 bad usage or input.`,
		Example: `  faultline explore --dry-run
  faultline explore --budget 10m --out runs/explore
  faultline explore --pairs --budget 40 scenarios/smoke.yaml
  faultline explore --profiles default,no-fallback --budget 5m`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExplore(cmd.Context(), cmd.OutOrStdout(), args, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.profile, "profile", "", "resilience profile (default: the scenario's, else default)")
	f.StringVar(&o.profiles, "profiles", "", "explore once per profile, comma-separated, and diff each with the first (e.g. default,no-fallback)")
	f.StringVar(&o.budget, "budget", "", "per profile: stop after this long (10m) or this many experiments (40); default: no limit")
	f.BoolVar(&o.pairs, "pairs", false, "also explore pairs of faults on one stream's path")
	f.Uint64Var(&o.seed, "seed", 1, "orders the plan: the same seed, the same plan")
	f.StringVar(&o.out, "out", "", "exploration directory (default runs/explore-<time>)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and the pruning, run nothing")
	f.StringVar(&o.pathMap, "paths", "", "a pathmap.json to plan from instead of a baseline run")
	f.StringSliceVar(&o.classes, "faults", nil, "only these fault classes, comma-separated: "+strings.Join(explore.Classes(), ", "))
	f.IntVar(&o.group, "group", 1, "group testing: run up to N singles at once when their faults lie on disjoint streams' paths; a group that broke something is split (1 = each alone)")
	f.StringSliceVar(&o.only, "only", nil, "only these experiments by id, comma-separated, as the plan names them (refused@link->billing; a pair a+b turns --pairs on)")
	f.StringSliceVar(&o.targets, "targets", nil, "only faults on these edges or components (or, for a surge, streams of the load), comma-separated (e.g. link->billing,redis,create)")
	return c
}

// parseBudget reads "10m" (a time) or "40" (experiments).
func parseBudget(s string) (time.Duration, int, error) {
	if s == "" {
		return 0, 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 {
			return 0, 0, fmt.Errorf("--budget %s: want a positive number of experiments or a duration", s)
		}
		return 0, n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("--budget %q: want a duration (10m) or a number of experiments (40)", s)
	}
	return d, 0, nil
}

func runExplore(ctx context.Context, stdout io.Writer, args []string, o exploreOptions) error {
	budget, limit, err := parseBudget(o.budget)
	if err != nil {
		return usageError{err}
	}
	if o.group < 1 {
		return usageError{fmt.Errorf("--group %d: want 1 (no grouping) or more", o.group)}
	}
	// an unknown target or class is the caller's mistake: refused before anything starts
	if _, err := explore.NewPlan(explore.PathMap{}, &policy.Profile{}, explore.Options{Targets: o.targets, Classes: o.classes, Only: o.only}); err != nil {
		return usageError{err}
	}
	base := explore.DefaultBase()
	if len(args) == 1 {
		sc, err := scenarios.ParseFile(args[0])
		if err != nil {
			return usageError{err}
		}
		if base, err = explore.BaseFrom(sc); err != nil {
			return usageError{err}
		}
	}
	profiles, err := exploreProfiles(o, base)
	if err != nil {
		return usageError{err}
	}
	if o.out == "" {
		o.out = filepath.Join("runs", "explore-"+time.Now().Format("20060102-150405"))
	}
	var pm *explore.PathMap
	if o.pathMap != "" {
		m, err := explore.ReadPathMap(o.pathMap)
		if err != nil {
			return usageError{err}
		}
		pm = &m
	}
	if o.dryRun {
		return exploreDryRun(stdout, base, profiles, pm, o, limit)
	}
	opts := explorerun.Options{Base: base, Seed: o.seed, Pairs: o.pairs, Budget: budget, Limit: limit, Targets: o.targets, Classes: o.classes, Only: o.only, Group: o.group, OutDir: o.out, Log: stdout, Map: pm}
	rep, err := explorerun.Session(ctx, opts, profiles)
	if rep != nil {
		for _, ex := range rep.Explorations {
			fmt.Fprintf(stdout, "%s: %s; %d weak spots\n", ex.Profile, ex.Headline(), len(weakOf(ex)))
		}
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(o.out, explorerun.HTMLFile))
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stdout, "interrupted: every fault healed; the report holds what finished")
		}
		return err
	}
	if rep.WeakSpotCount() > 0 {
		return errMismatch
	}
	return nil
}

func exploreProfiles(o exploreOptions, base explore.Base) ([]string, error) {
	if o.profiles != "" && o.profile != "" {
		return nil, errors.New("--profile and --profiles: give one")
	}
	var out []string
	if o.profiles != "" {
		for _, p := range strings.Split(o.profiles, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	} else {
		p := o.profile
		if p == "" {
			p = base.Profile
		}
		if p == "" {
			p = "default"
		}
		out = []string{p}
	}
	seen := map[string]bool{}
	for _, p := range out {
		if seen[p] {
			return nil, fmt.Errorf("--profiles: %s given twice", p)
		}
		seen[p] = true
		if _, err := policy.Load(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func exploreDryRun(w io.Writer, base explore.Base, profiles []string, pm *explore.PathMap, o exploreOptions, limit int) error {
	m := explore.StaticMap(base)
	switch {
	case pm != nil:
		m = *pm
		m.Source = "the path map " + o.pathMap
	default:
		cached := filepath.Join(o.out, "pathmap.json")
		if c, err := explore.ReadPathMap(cached); err == nil {
			m = c
			m.Source = "the cached baseline " + cached
		}
	}
	for _, p := range profiles {
		prof, err := policy.Load(p)
		if err != nil {
			return usageError{err}
		}
		pl, err := explore.NewPlan(m, prof, explore.Options{Seed: o.seed, Pairs: o.pairs, Limit: limit, Targets: o.targets, Classes: o.classes, Only: o.only})
		if err != nil {
			return usageError{err}
		}
		fmt.Fprint(w, pl.Text())
	}
	return nil
}

func weakOf(ex *rexplore.Exploration) []rexplore.Outcome { return rexplore.WeakSpots(ex.Outcomes) }
