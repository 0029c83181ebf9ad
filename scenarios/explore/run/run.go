// Package run executes an exploration on the real system: a baseline that learns each
// stream's path, then the plan's experiments one after the other, each a generated scenario
// judged by scenarios/runner, on one running system reused while the data checks allow.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/reports/rundir"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/explore"
	"github.com/faultline/faultline/scenarios/runner"
	"github.com/faultline/faultline/system/policy"
)

// Options configure one exploration of one profile.
type Options struct {
	Base    explore.Base
	Profile string
	Seed    uint64
	Pairs   bool
	Budget  time.Duration // stop starting experiments when the next would not fit (0 = none)
	Limit   int           // at most this many experiments (0 = none)
	Targets []string      // only faults on these targets (nil = all)
	Classes []string      // only these fault classes (nil = all)
	Only    []string      // only these experiments by id (nil = all)
	// Group > 1 runs up to this many singles at once when their faults lie on disjoint
	// streams' paths (group testing, scenarios/explore/group.go); 0 or 1 runs each alone.
	Group  int
	OutDir string
	Binary string
	Log    io.Writer
	// Map skips the baseline run (a cached path map).
	Map *explore.PathMap
	// Settle bounds each experiment's wait for analytics before its data is judged.
	Settle time.Duration
}

// ErrBaseline is returned when the system does not hold the SLOs without any fault: there is
// nothing to explore against.
var ErrBaseline = errors.New("explore: the baseline failed")

// Explore runs the exploration. It returns what it finished even when interrupted (the
// Exploration's Interrupted is then set and err wraps the context's error).
func Explore(ctx context.Context, o Options) (ex *rexplore.Exploration, err error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Settle == 0 {
		o.Settle = explore.WeakSpotCaughtUp
	}
	prof, err := policy.Load(o.Profile)
	if err != nil {
		return nil, fmt.Errorf("explore: %w", err)
	}
	begin := time.Now()
	p, err := newPool(ctx, o.OutDir, o.Profile, o.Binary, o.Log)
	if err != nil {
		return nil, err
	}
	ex = &rexplore.Exploration{Profile: o.Profile, Scenario: o.Base.Name, Seed: o.Seed, StartedAt: begin.UTC()}
	for _, s := range o.Base.Load {
		ex.Streams = append(ex.Streams, s.Name)
	}
	defer func() {
		cerr := p.Close(context.WithoutCancel(ctx))
		if cerr != nil {
			fmt.Fprintf(o.Log, "  teardown: %v\n", cerr)
		}
		ex.Systems = p.systems
		ex.DurationS = time.Since(begin).Seconds()
	}()

	pm := o.Map
	if pm == nil {
		learned, err := baseline(ctx, p, o)
		if err != nil {
			return ex, err
		}
		pm = &learned
	}
	ex.MapSource = pm.Source
	plan, err := explore.NewPlan(*pm, prof, explore.Options{Seed: o.Seed, Pairs: o.Pairs, Limit: o.Limit, Targets: o.Targets, Classes: o.Classes, Only: o.Only})
	if err != nil {
		return ex, err
	}
	ex.Possible, ex.Planned = plan.Possible, len(plan.Singles)+len(plan.Pairs)
	pruned := map[string]*rexplore.PrunedRule{}
	for _, r := range plan.Pruned {
		pruned[r.Rule] = &r
	}
	e := &executor{o: o, p: p, ex: ex, begin: begin, pruned: pruned}
	defer func() { ex.Pruned = e.prunedList() }()

	total := len(plan.Singles) + len(plan.Pairs)
	if o.Group > 1 {
		if !e.runGroups(ctx, plan.Singles, total) {
			e.skipRest(nil, plan.Pairs)
			return ex, e.stopErr(ctx)
		}
	} else {
		for i, x := range plan.Singles {
			if !e.runOne(ctx, x, i+1, total) {
				e.skipRest(plan.Singles[i:], plan.Pairs)
				return ex, e.stopErr(ctx)
			}
		}
	}
	pairs := explore.Reduce(plan.Pairs, ex.Outcomes)
	for _, pr := range pairs.Pruned {
		e.prune(explore.RuleCovered, pr)
	}
	ex.Planned -= len(pairs.Pruned)
	for i, x := range pairs.Keep {
		if !e.runOne(ctx, x, len(plan.Singles)+i+1, len(plan.Singles)+len(pairs.Keep)) {
			e.skipRest(nil, pairs.Keep[i:])
			return ex, e.stopErr(ctx)
		}
	}
	return ex, nil
}

// baseline runs the load without faults and learns the path map from its spans.
func baseline(ctx context.Context, p *pool, o Options) (explore.PathMap, error) {
	y, err := o.Base.Baseline(o.Profile)
	if err != nil {
		return explore.PathMap{}, err
	}
	sc, err := scenarios.Parse("explore-baseline.yaml", y)
	if err != nil {
		return explore.PathMap{}, fmt.Errorf("explore: %w", err)
	}
	dir := filepath.Join(o.OutDir, "baseline")
	fmt.Fprintf(o.Log, "baseline: learning each stream's path from traces (%s)\n", sc.Duration)
	res, err := runner.Run(ctx, runner.Options{Scenario: sc, Profile: o.Profile, OutDir: dir, Binary: o.Binary,
		Start: p.Start, Settle: o.Settle, RetryInvalid: 1, GzipSpans: true})
	if err != nil && res == nil {
		return explore.PathMap{}, err
	}
	if ctx.Err() != nil {
		return explore.PathMap{}, fmt.Errorf("explore: interrupted during the baseline: %w", ctx.Err())
	}
	if res.Verdict != reports.VerdictPass {
		return explore.PathMap{}, fmt.Errorf("%w (%s): %s; see %s", ErrBaseline, res.Verdict, strings.Join(res.Reasons, "; "), dir)
	}
	spans, err := rundir.ReadSpans(dir)
	if err != nil {
		return explore.PathMap{}, err
	}
	pm := explore.Learn(spans, o.Base.Requests())
	pm.Source = "baseline run " + dir
	if empty := pm.Empty(); len(empty) > 0 {
		return explore.PathMap{}, fmt.Errorf("%w: no trace of stream %s in the baseline's spans: its path is unknown", ErrBaseline, strings.Join(empty, ", "))
	}
	if err := os.WriteFile(filepath.Join(o.OutDir, "pathmap.json"), pm.JSON(), 0o644); err != nil {
		return explore.PathMap{}, fmt.Errorf("explore: %w", err)
	}
	return pm, nil
}

type executor struct {
	o      Options
	p      *pool
	ex     *rexplore.Exploration
	begin  time.Time
	pruned map[string]*rexplore.PrunedRule
	spent  time.Duration // on experiments alone, for the estimate
	runs   int           // experiments run (a group is one run)
	budget bool          // the budget stopped the run
	k      int           // runs numbered so far (run directories)
}

func (e *executor) prune(rule, id string) {
	pr := e.pruned[rule]
	if pr == nil {
		pr = &rexplore.PrunedRule{Rule: rule, Why: explore.RuleText[rule]}
		e.pruned[rule] = pr
	}
	pr.Count++
	if len(pr.Examples) < explore.MaxExamples {
		pr.Examples = append(pr.Examples, id)
	}
}

func (e *executor) prunedList() []rexplore.PrunedRule {
	var out []rexplore.PrunedRule
	for _, r := range []string{explore.RuleOutside, explore.RuleOffPath, explore.RuleSameTarget, explore.RuleBelow,
		explore.RuleNotOnePath, explore.RuleUnderSurge, explore.RuleNotSelected, explore.RuleCovered, explore.RuleBudget} {
		if pr := e.pruned[r]; pr != nil {
			out = append(out, *pr)
		}
	}
	return out
}

// skipRest counts what was never run: interrupted, or out of budget.
func (e *executor) skipRest(singles, pairs []explore.Experiment) {
	if !e.budget {
		return
	}
	for _, x := range append(append([]explore.Experiment(nil), singles...), pairs...) {
		e.prune(explore.RuleBudget, x.ID)
		e.ex.Planned--
	}
}

func (e *executor) stopErr(ctx context.Context) error {
	if ctx.Err() != nil {
		e.ex.Interrupted = true
		return fmt.Errorf("explore: interrupted after %d experiments: %w", e.ex.Explored, ctx.Err())
	}
	return nil
}

// runOne runs one experiment; false stops the exploration (interrupted or out of budget).
func (e *executor) runOne(ctx context.Context, x explore.Experiment, k, n int) bool {
	if ctx.Err() != nil {
		return false
	}
	if !e.gate(ctx, x.ID, k, n) {
		return false
	}
	start := time.Now()
	out, res := e.experiment(ctx, x, e.next(k))
	if ctx.Err() != nil {
		return false // an interrupted experiment proves nothing: it is not counted
	}
	ran := time.Since(start)
	e.runs++
	e.ex.Outcomes = append(e.ex.Outcomes, out)
	e.ex.Explored++
	fmt.Fprintf(e.o.Log, "  → %s\n", summary(out))
	healStart := time.Now()
	e.afterwards(ctx, x, out)
	e.spent += time.Since(start)
	fmt.Fprintf(e.o.Log, "  time: %s\n", timing(res, ran, time.Since(healStart)))
	return true
}

// next numbers the next run directory: k when runs are not grouped, else the next free one.
func (e *executor) next(k int) int {
	e.k = max(e.k+1, k)
	return e.k
}

// gate checks the budget and logs the progress before a run; false stops the exploration.
func (e *executor) gate(ctx context.Context, id string, k, n int) bool {
	if ctx.Err() != nil {
		return false
	}
	elapsed := time.Since(e.begin)
	mean := time.Duration(0)
	if e.runs > 0 {
		mean = e.spent / time.Duration(e.runs)
	}
	if e.o.Budget > 0 && mean > 0 && elapsed+mean > e.o.Budget {
		e.budget = true
		fmt.Fprintf(e.o.Log, "budget %s reached after %d experiments\n", e.o.Budget, e.ex.Explored)
		return false
	}
	left := "?"
	if mean > 0 && e.ex.Explored > 0 {
		// per experiment proven so far: a group proves several in one run
		left = (elapsed / time.Duration(e.ex.Explored) * time.Duration(n-k+1)).Round(time.Second).String()
	}
	fmt.Fprintf(e.o.Log, "experiment %d of %d: %s (elapsed %s, about %s left)\n", k, n, id, elapsed.Round(time.Second), left)
	return true
}

// runGroups runs the singles by group testing: the groups of MakeGroups, each group's run
// judged by Attribute; the singles it proves held are outcomes, the others run again alone
// or in halves. False stops the exploration (interrupted or out of budget); what was not
// proven is then counted as not run.
func (e *executor) runGroups(ctx context.Context, singles []explore.Experiment, total int) bool {
	queue := explore.MakeGroups(singles, e.o.Group)
	var grouped, proven, alone, split int
	defer func() {
		if grouped > 0 {
			e.ex.Notes = append(e.ex.Notes, fmt.Sprintf("group testing: %d group runs proved %d singles held; %d singles ran again alone, %d groups were bisected", grouped, proven, alone, split))
		}
	}()
	for len(queue) > 0 {
		g := queue[0]
		if len(g.Singles) == 1 {
			if !e.runOne(ctx, g.Singles[0], e.ex.Explored+1, total) {
				e.skipRest(pending(queue), nil)
				return false
			}
			queue = queue[1:]
			continue
		}
		x := g.Experiment()
		if !e.gate(ctx, fmt.Sprintf("group of %d: %s", len(g.Singles), g.ID), e.ex.Explored+1, total) {
			e.skipRest(pending(queue), nil)
			return false
		}
		start := time.Now()
		out, res := e.experiment(ctx, x, e.next(0))
		if ctx.Err() != nil {
			e.skipRest(pending(queue), nil)
			return false
		}
		e.spent += time.Since(start)
		e.runs++
		grouped++
		queue = queue[1:]
		var land explore.Landing
		if res != nil {
			land = explore.LandingOf(res.Faults)
		}
		at := explore.Attribute(g, out, land)
		for _, o := range at.Held {
			e.ex.Outcomes = append(e.ex.Outcomes, o)
			e.ex.Explored++
			proven++
		}
		fmt.Fprintf(e.o.Log, "  → %s; proved held: %d of %d\n", summary(out), len(at.Held), len(g.Singles))
		for _, a := range at.Alone {
			fmt.Fprintf(e.o.Log, "  %s runs again alone: %s\n", a.ID, at.Why[a.ID])
			queue = append(queue, explore.NewGroup([]explore.Experiment{a}))
			alone++
		}
		if len(at.Split) > 0 {
			fmt.Fprintf(e.o.Log, "  bisected: %s\n", at.SplitWhy)
			split++
			for _, h := range at.Split {
				queue = append(queue, explore.NewGroup(h))
			}
		}
		e.afterwards(ctx, x, out)
	}
	return true
}

// pending lists the singles of the groups not yet proven.
func pending(gs []explore.Group) []explore.Experiment {
	var out []explore.Experiment
	for _, g := range gs {
		out = append(out, g.Singles...)
	}
	return out
}

func (e *executor) experiment(ctx context.Context, x explore.Experiment, k int) (rexplore.Outcome, *reports.Results) {
	fresh := e.p.lab == nil
	dir := filepath.Join(e.o.OutDir, "experiments", fmt.Sprintf("%03d-%s", k, explore.ScenarioName(x.ID)))
	fail := func(err error) rexplore.Outcome {
		return rexplore.Outcome{ID: x.ID, Faults: x.Faults, OnPath: x.Streams, Verdict: reports.VerdictError,
			Reasons: []string{err.Error()}, Streams: unproven(e.o.Base, err), Dir: dir, Fresh: fresh}
	}
	y, err := e.o.Base.Experiment(x, e.o.Profile)
	if err != nil {
		return fail(err), nil
	}
	sc, err := scenarios.Parse(explore.ScenarioName(x.ID)+".yaml", y)
	if err != nil {
		return fail(err), nil
	}
	res, err := runner.Run(ctx, runner.Options{Scenario: sc, Profile: e.o.Profile, OutDir: dir, Binary: e.o.Binary,
		Start: e.p.Start, Settle: e.o.Settle, RetryInvalid: 1, GzipSpans: true})
	if res == nil {
		return fail(err), nil
	}
	// a surge that did not land (its stream's fault phase did not send the surge) tested nothing
	explore.MarkSurgeLanding(x.Faults, res, e.o.Base.Rates())
	out := rexplore.Classify(x.ID, x.Faults, x.Streams, res, e.o.Base.Rates())
	out.Dir, out.Fresh = dir, fresh
	// a pair's damage its faults did alone is known: it makes no weak spot of the pair
	rexplore.MarkCovered(&out, e.ex.Outcomes)
	return out, res
}

// afterwards decides whether the next experiment may reuse the system: not after a crash
// of a store, nor when the data checks found loss or could not finish, nor when a service
// is not ready again after the heal.
func (e *executor) afterwards(ctx context.Context, x explore.Experiment, out rexplore.Outcome) {
	why := ""
	switch {
	case x.Stateful():
		why = "a store was crashed"
	case len(out.Data) > 0:
		why = "data was lost"
	case out.Verdict == reports.VerdictError:
		why = "the run failed"
	default:
		for _, s := range out.Streams {
			if s.Class == rexplore.Unproven {
				why = "a check could not be judged"
			}
		}
	}
	if why == "" {
		if err := e.p.Healthy(ctx, 15*time.Second); err != nil {
			why = err.Error()
		}
	}
	if why != "" && ctx.Err() == nil {
		fmt.Fprintf(e.o.Log, "  a fresh system for the next experiment: %s\n", why)
		if err := e.p.Retire(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(e.o.Log, "  teardown: %v\n", err)
		}
	}
}

func unproven(b explore.Base, err error) map[string]rexplore.StreamOutcome {
	out := map[string]rexplore.StreamOutcome{}
	for _, s := range b.Load {
		out[s.Name] = rexplore.StreamOutcome{Class: rexplore.Unproven, Rate: s.Rate, Why: err.Error()}
	}
	return out
}

// timing says where an experiment's time went, for the progress log: the system's start
// (a fresh one), the set-up, the load, then the data checks, span flush and writing, and the
// health check (or the retirement) after it.
func timing(res *reports.Results, ran, after time.Duration) string {
	if res == nil {
		return fmt.Sprintf("%.1f s (the run failed), after %.1f s", ran.Seconds(), after.Seconds())
	}
	load := time.Duration(res.DurationS * float64(time.Second))
	setup := time.Duration(res.SetupS * float64(time.Second))
	rest := ran - load - setup
	return fmt.Sprintf("%.1f s = setup %.1f s + load %.1f s + start, data checks, flush, write %.1f s; heal and health %.1f s",
		(ran + after).Seconds(), setup.Seconds(), load.Seconds(), rest.Seconds(), after.Seconds())
}

// summary is one line per outcome for the progress log.
func summary(o rexplore.Outcome) string {
	s := streamsText(o)
	if len(o.Affected) > 0 {
		s += "; affected " + strings.Join(o.Affected, ",")
	}
	if !o.Valid {
		// say why: a CI log that shows only "invalid" cannot be acted on
		s += "; measurement invalid: " + strings.Join(o.Invalid, "; ")
	}
	return s
}

// streamsText spells an outcome per stream ("create broken, redirect held"), with why a
// stream is unproven (an invalid run's why is the run's, said apart).
func streamsText(o rexplore.Outcome) string {
	var parts []string
	for _, n := range sortedKeys(o.Streams) {
		so := o.Streams[n]
		part := n + " " + so.Class
		if so.Class == rexplore.Unproven && so.Why != "" && o.Valid {
			part += " (" + so.Why + ")"
		}
		if so.CoveredBy != "" {
			part += " (as under " + so.CoveredBy + " alone)"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
