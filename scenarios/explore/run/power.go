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
}

// PowerCases lists every protection mutant of default and of adaptive.
var PowerCases = []PowerCase{
	{"no-fallback", "default", []string{"refused@link->billing"},
		"link's quota check no longer fails open: creation breaks while billing refuses connections"},
	{"no-outbox", "default", []string{"blackhole@link->nats"},
		"link publishes after commit, best effort: link-created events are lost while link->nats is a blackhole"},
	{"none", "default", []string{"refused@link->billing"},
		"no fallback (nor anything else): creation breaks while billing refuses connections"},
	{"no-timeout", "default", []string{"latency-beyond@link->billing"},
		"nothing cuts a slow quota check: every creation waits the whole latency (3 s: no timeout in the profile, so the fixed one) where default gives up after 150 ms and fails open"},
	{"no-backoff", "default", []string{"http-error@link->billing"},
		"a fifth of the quota checks answered 503, under the breaker's failure ratio: no-backoff retries each at once (back-to-back attempts, gaps under 1 ms, several per creation), default spaces its single retry by backoff; no creation SLO shows it (the retries hide the errors): the retry-storm check (attempt spans) does. latency-beyond no longer shows it at the explorer's rate (125 creations/s fill the breaker's 20-call window in a fraction of a second: one retry per call before it opens)"},
	{"no-dedup", "default", []string{"latency-beyond@redirect->nats"},
		"click acks arrive after redirect's 2 s publish timeout, so redirect publishes again; without Nats-Msg-Id the stream keeps both: clicks counted twice"},
	{"no-breaker", "default", []string{"latency-beyond@redirect->link+refused@redirect->redis"},
		"every redirect misses the cache and waits three 200 ms attempts on a slow link, past the gateway's 500 ms, where default's breaker opens and the stale cache answers"},
	{"unbounded-bulkhead", "default", []string{"surge@create+latency-mild@link->link-db"},
		"a bulkhead only shows under more concurrency than the pool (overload.yaml): 4 × the creations (200/s) while link->link-db is 50 ms away for the whole experiment (0.1 × its 500 ms timeout) asks more than link's 32 pooled connections serve; default's bulkhead sheds the excess at once and keeps goodput (151/s in the surge, recovery clean), without it every creation queues for a connection until it times out and the backlog outlives the surge. Measured 2026-12-02: the mutant's surge goodput 60/s, then 43-91 % of creations failed in the recovery"},
	{"no-adaptive-limiter", "adaptive", []string{"surge@create+latency-mild@link->link-db"},
		"like unbounded-bulkhead (surge-adaptive.yaml): adaptive's limiters on the create route and on link->link-db learn the latency before the surge (it is there for the whole experiment), find the concurrency the pool serves and shed the rest. Measured 2026-12-02: adaptive 134 creations/s in the surge, recovery 0-0.8 % errors; the mutant 60-69/s, then 51-94 % failed in the recovery"},
	{"no-budget", "adaptive", nil,
		"a retry budget only acts when retries pile up; under every fault of the vocabulary the breaker opens first and the fallback answers (scenarios/drafts/retry-budget.yaml missed it for the same reason). Measured 2026-12-02 (session 6, 125 creations/s): http-error (20 % 503s, under the breakers' ratio) on gateway->link, link->billing and redirect->link gives the same outcome under adaptive and no-budget: create 50 of 251 failed on gateway->link (creations are not retried), at most 1 retry per call on link->billing (the budget, 20 % of calls in flight, never binds), no error on redirect->link (the cache answers)"},
	{"no-throttler", "adaptive", nil,
		"the throttler on the calls to link acts like the budget: the breaker and the stale cache answer first (scenarios/drafts/retry-budget.yaml missed it too). Measured 2026-12-02 (session 6): http-error (20 % 503s) on gateway->link and redirect->link gives the same outcome under adaptive and no-throttler (create 50 of 251 failed on gateway->link under both; redirect no error under both: the cache answers)"},
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
		base, mut := exs[c.Against], exs[c.Mutant]
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
		var parts []string
		for _, n := range sortedKeys(o.Streams) {
			parts = append(parts, n+" "+o.Streams[n].Class)
		}
		for _, k := range sortedKeys(o.Data) {
			parts = append(parts, fmt.Sprintf("%s %d", k, o.Data[k]))
		}
		for _, st := range o.Storms {
			parts = append(parts, "retry storm "+st.String())
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

// Power runs the power check: each base profile explored once with the union of its
// mutants' experiments (a real baseline learns the paths), then each mutant with its own
// experiments on the base's learned paths; each exploration on its own reused system, in
// OutDir/<profile>. Cases without experiments are not run. It returns the rows (every case,
// MISSED ones included) and the explorations, and the first error that stopped it.
func Power(ctx context.Context, o Options, cases []PowerCase) ([]PowerRow, map[string]*rexplore.Exploration, error) {
	exs := map[string]*rexplore.Exploration{}
	var bases []string
	union := map[string][]string{}
	for _, c := range cases {
		if len(c.Experiments) == 0 {
			continue
		}
		if !slices.Contains(bases, c.Against) {
			bases = append(bases, c.Against)
		}
		for _, id := range c.Experiments {
			if !slices.Contains(union[c.Against], id) {
				union[c.Against] = append(union[c.Against], id)
			}
		}
	}
	var errs []error
	for _, base := range bases {
		bo := o
		bo.Profile, bo.Only, bo.OutDir = base, union[base], filepath.Join(o.OutDir, base)
		ex, err := explorePower(ctx, bo)
		if ex != nil && err == nil {
			exs[base] = ex
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", base, err))
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
			if c.Against != base || len(c.Experiments) == 0 || ctx.Err() != nil {
				continue
			}
			mo := o
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
// and is listed once.
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
	}
	return nil
}
