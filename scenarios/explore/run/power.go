package run

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/explore"
	"github.com/faultline/faultline/scenarios/mutants"
)

// PowerCase is one protection mutant of the power check (issue 14 point 7): the profile it
// removes a protection from (Against) and the experiments of the explorer's vocabulary under
// which the loss should show. Experiments is the bounded budget: the check runs these and
// nothing else. A mutant with no experiment is one the explorer cannot show (Why says why);
// it is reported MISSED without a run, never left out.
type PowerCase struct {
	Mutant      string
	Against     string
	Experiments []string
	Why         string
	// Scenario, when set, is the base load and SLOs both profiles are explored under (a
	// scenario file, relative to the module root, as `faultline explore SCENARIO` takes it):
	// a weak spot that only shows under a load the built-in mix does not send. "" is the
	// built-in mix (Options.Base).
	Scenario string
}

// baseKey names the base exploration a case is judged against, and its directory: the base
// profile, and the scenario's file name when the case brings its own load (one profile may be
// explored under several loads).
func (c PowerCase) baseKey() string {
	if c.Scenario == "" {
		return c.Against
	}
	return c.Against + "+" + strings.TrimSuffix(filepath.Base(c.Scenario), filepath.Ext(c.Scenario))
}

// loadBase reads a case's base scenario (relative to the module root, so the check runs from
// any directory of the checkout, a package's test included).
func loadBase(path string) (explore.Base, error) {
	if !filepath.IsAbs(path) {
		root, err := mutants.FindSource(".")
		if err != nil {
			return explore.Base{}, fmt.Errorf("explore: power case scenario %s: %w", path, err)
		}
		path = filepath.Join(root, path)
	}
	sc, err := scenarios.ParseFile(path)
	if err != nil {
		return explore.Base{}, fmt.Errorf("explore: power case scenario: %w", err)
	}
	return explore.BaseFrom(sc)
}

// PowerCases lists every protection mutant of default and of adaptive.
var PowerCases = []PowerCase{
	{Mutant: "no-fallback", Against: "default", Experiments: []string{"refused@link->billing"},
		Why: "link's quota check no longer fails open: creation breaks while billing refuses connections"},
	{Mutant: "no-outbox", Against: "default", Experiments: []string{"blackhole@link->nats"},
		Why: "link publishes after commit, best effort: link-created events are lost while link->nats is a blackhole"},
	{Mutant: "none", Against: "default", Experiments: []string{"refused@link->billing"},
		Why: "no fallback (nor anything else): creation breaks while billing refuses connections"},
	{Mutant: "no-timeout", Against: "default", Experiments: []string{"latency-beyond@link->billing"},
		Why: "nothing cuts a slow quota check: every creation waits the whole latency (3 s: no timeout in the profile, so the fixed one) where default gives up after 150 ms and fails open"},
	{Mutant: "no-backoff", Against: "default", Experiments: []string{"http-error@link->billing"},
		Why: "a fifth of the quota checks answered 503, under the breaker's failure ratio: no-backoff retries each at once (back-to-back attempts, gaps under 1 ms, several per creation), default spaces its single retry by backoff; no creation SLO shows it (the retries hide the errors): the retry-storm check (attempt spans) does. latency-beyond no longer shows it at the explorer's rate (125 creations/s fill the breaker's 20-call window in a fraction of a second: one retry per call before it opens)"},
	{Mutant: "no-dedup", Against: "default", Experiments: []string{"latency-beyond@redirect->nats"},
		Why: "click acks arrive after redirect's 2 s publish timeout, so redirect publishes again; without Nats-Msg-Id the stream keeps both: clicks counted twice"},
	{Mutant: "no-breaker", Against: "default", Experiments: []string{"latency-beyond@redirect->link+refused@redirect->redis"},
		Why: "every redirect misses the cache and waits three 200 ms attempts on a slow link, past the gateway's 500 ms, where default's breaker opens and the stale cache answers"},
	{Mutant: "unbounded-bulkhead", Against: "default", Experiments: []string{"surge@create+latency-mild@link->link-db"},
		Why: "a bulkhead only shows under more concurrency than the pool (overload.yaml): 4 × the creations (200/s) while link->link-db is 50 ms away for the whole experiment (0.1 × its 500 ms timeout) asks more than link's 32 pooled connections serve; default's bulkhead sheds the excess at once and keeps goodput (151/s in the surge, recovery clean), without it every creation queues for a connection until it times out and the backlog outlives the surge. Measured 2026-12-02: the mutant's surge goodput 60/s, then 43-91 % of creations failed in the recovery"},
	{Mutant: "no-adaptive-limiter", Against: "adaptive", Experiments: []string{"surge@create+latency-mild@link->link-db"},
		Why: "like unbounded-bulkhead (surge-adaptive.yaml): adaptive's limiters on the create route and on link->link-db learn the latency before the surge (it is there for the whole experiment), find the concurrency the pool serves and shed the rest. Measured 2026-12-02: adaptive 134 creations/s in the surge, recovery 0-0.8 % errors; the mutant 60-69/s, then 51-94 % failed in the recovery"},
	{Mutant: "no-budget", Against: "adaptive", Experiments: []string{"http-poison@redirect->link+refused@redirect->redis"},
		Scenario: "scenarios/explore/testdata/retry-storm.yaml",
		Why:      "a retry budget acts when a failed call's retries fail too (docs/policy-choice.md, last section): Redis refused, so every redirect asks link, and 4 % of the codes held past redirect->link's 200 ms timeout, every request of one and its retries too; adaptive's budget refuses the poisoned calls' retries once they pile up and the stale cache answers in ~220 ms, no-budget makes three attempts (~660 ms), past the gateway's 500 ms, and the gateway's retry meets the same code: a 504. Only under retry-budget.yaml's load (450 redirects/s over 400 codes: ~18 poisoned lookups a second, more than the budget's floor of 3 retries in flight carries); the built-in mix's 150/s over 20 codes stays under that floor"},
	{Mutant: "no-throttler", Against: "adaptive", Experiments: nil,
		Why: "redirect->link's throttler acts above 20 % failed attempts, where its breaker (0.5 of 20) already cycles and the stale cache answers every redirect either refuses; under the poisoned keys that find no-budget the failed attempts stay near 10 % and it never engages (retry-budget.yaml: adaptive 0.38 %, no-throttler 0.46 % errors); gateway->link's throttler (0.5) engages exactly where its breaker opens. No fault of the vocabulary makes it bind before the breaker (docs/policy-choice.md, last section)"},
}

// PowerRow is the power check's finding for one mutant: the experiments weak under the
// mutant and not (or less) under the profile it mutates, or why it was missed.
type PowerRow struct {
	Mutant  string   `json:"mutant"`
	Against string   `json:"against"`
	Ran     []string `json:"ran,omitempty"`
	Found   []string `json:"found,omitempty"` // distinguishing weak spots
	Detail  []string `json:"detail,omitempty"`
	Missed  string   `json:"missed,omitempty"` // why, when Found is empty
}

// PowerRows judges each case from the explorations: the base profile's and the mutant's
// (by profile name). A case whose mutant (or base) was not explored, or whose experiments
// were not run or not proven under both, is MISSED with the reason; a distinguishing weak
// spot is one Compare puts on the mutant's side alone.
func PowerRows(cases []PowerCase, exs map[string]*rexplore.Exploration) []PowerRow {
	var rows []PowerRow
	for _, c := range cases {
		r := PowerRow{Mutant: c.Mutant, Against: c.Against, Ran: c.Experiments}
		base, mut := exs[c.baseKey()], exs[c.Mutant]
		switch {
		case len(c.Experiments) == 0:
			r.Missed = "not expressible: " + c.Why
		case base == nil || mut == nil:
			r.Missed = "not explored (skipped, interrupted, or its run failed)"
		default:
			d := rexplore.Compare(base, mut)
			for _, id := range c.Experiments {
				id := outcomeID(mut, id)
				if slices.Contains(d.OnlyB, id) {
					r.Found = append(r.Found, id)
				}
				r.Detail = append(r.Detail, fmt.Sprintf("%s: %s %s, %s %s", id, c.Against, classes(base, id), c.Mutant, classes(mut, id)))
			}
			if len(r.Found) == 0 {
				r.Missed = "no experiment hurt " + c.Mutant + " more than " + c.Against + " (" + strings.Join(r.Detail, "; ") + ")"
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// outcomeID is the id the exploration ran a (maybe swapped) pair under.
func outcomeID(ex *rexplore.Exploration, id string) string {
	for _, o := range ex.Outcomes {
		if o.ID == explore.SwapPair(id) {
			return o.ID
		}
	}
	return id
}

// classes spells an experiment's outcome per stream ("create broken, redirect held"), or
// "not run".
func classes(ex *rexplore.Exploration, id string) string {
	for _, o := range ex.Outcomes {
		if o.ID != id {
			continue
		}
		parts := []string{streamsText(o)}
		for _, k := range sortedKeys(o.Data) {
			parts = append(parts, fmt.Sprintf("%s %d", k, o.Data[k]))
		}
		for _, st := range o.Storms {
			parts = append(parts, "retry storm "+st.String())
		}
		if !o.Valid {
			parts = append(parts, "measurement invalid: "+strings.Join(o.Invalid, "; "))
		}
		return strings.Join(parts, ", ")
	}
	return "not run"
}

// PowerTable is the check's table: mutant → distinguishing weak spot, or MISSED and why.
func PowerTable(rows []PowerRow) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "mutant\tagainst\tdistinguishing weak spot")
	for _, r := range rows {
		found := strings.Join(r.Found, ", ")
		if found == "" {
			found = "MISSED: " + r.Missed
		} else {
			found += "  (" + strings.Join(r.Detail, "; ") + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.Mutant, r.Against, found)
	}
	_ = w.Flush()
	return b.String()
}

// Power runs the power check: each base — a profile under a load, the built-in mix or a
// case's Scenario — explored once with the union of its mutants' experiments (a real
// baseline learns the paths), then each mutant with its own experiments on the base's
// learned paths and under the same load; each exploration on its own reused system, in
// OutDir/<base key> (PowerCase.baseKey) or OutDir/<mutant>. Cases without experiments are
// not run. It returns the rows (every case, MISSED ones included) and the explorations by
// that key, and the first error that stopped it.
func Power(ctx context.Context, o Options, cases []PowerCase) ([]PowerRow, map[string]*rexplore.Exploration, error) {
	exs := map[string]*rexplore.Exploration{}
	var errs []error
	for _, pb := range powerBases(cases) {
		if ctx.Err() != nil {
			break
		}
		k, base := pb.key, pb.profile
		bo := o
		if pb.scenario != "" {
			b, err := loadBase(pb.scenario)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k, err))
				continue
			}
			bo.Base = b
		}
		bo.Profile, bo.Only, bo.OutDir = base, pb.only, filepath.Join(o.OutDir, k)
		ex, err := explorePower(ctx, bo)
		if ex != nil && err == nil {
			exs[k] = ex
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		pm, err := explore.ReadPathMap(filepath.Join(bo.OutDir, "pathmap.json"))
		if err != nil && o.Map == nil {
			errs = append(errs, err)
			continue
		}
		if o.Map != nil {
			pm = *o.Map
		} else {
			pm.Source = "the baseline of profile " + base + " (" + filepath.Join(bo.OutDir, "baseline") + ")"
		}
		for _, c := range cases {
			if c.baseKey() != k || len(c.Experiments) == 0 || ctx.Err() != nil {
				continue
			}
			mo := bo
			mo.Profile, mo.Only, mo.OutDir, mo.Map = c.Mutant, c.Experiments, filepath.Join(o.OutDir, c.Mutant), &pm
			ex, err := explorePower(ctx, mo)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.Mutant, err))
				continue
			}
			exs[c.Mutant] = ex
		}
	}
	return PowerRows(cases, exs), exs, errors.Join(errs...)
}

// powerBase is one base exploration of the power check: a profile under a load, with the
// union of the experiments of the cases judged against it.
type powerBase struct {
	key, profile, scenario string
	only                   []string
}

// powerBases groups the cases that run by base (profile and scenario), in case order.
func powerBases(cases []PowerCase) []powerBase {
	var out []powerBase
	for _, c := range cases {
		if len(c.Experiments) == 0 {
			continue
		}
		i := slices.IndexFunc(out, func(b powerBase) bool { return b.key == c.baseKey() })
		if i < 0 {
			out = append(out, powerBase{key: c.baseKey(), profile: c.Against, scenario: c.Scenario})
			i = len(out) - 1
		}
		for _, id := range c.Experiments {
			if !slices.Contains(out[i].only, id) {
				out[i].only = append(out[i].only, id)
			}
		}
	}
	return out
}

// explorePower explores one profile and writes its report and weak-spot scenarios to its
// directory, as a single-profile session would.
func explorePower(ctx context.Context, o Options) (*rexplore.Exploration, error) {
	ex, err := Explore(ctx, o)
	if ex != nil {
		err = errors.Join(err, writeAll(o, rexplore.NewReport([]*rexplore.Exploration{ex}), false))
	}
	return ex, err
}

// validCases checks a case list against the built-in profiles: every mutant profile exists
// and is listed once, and a case's own base scenario loads as the explorer's base.
func validCases(cases []PowerCase) error {
	known := scenarios.Mutants()
	seen := map[string]bool{}
	for _, c := range cases {
		if !slices.Contains(known, c.Mutant) {
			return fmt.Errorf("explore: power case %s: no such mutant profile", c.Mutant)
		}
		if seen[c.Mutant] {
			return fmt.Errorf("explore: power case %s listed twice", c.Mutant)
		}
		seen[c.Mutant] = true
		if c.Scenario != "" {
			if _, err := loadBase(c.Scenario); err != nil {
				return fmt.Errorf("explore: power case %s: %w", c.Mutant, err)
			}
		}
	}
	return nil
}
