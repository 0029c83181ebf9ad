// Package compare sets finished runs side by side, summarises repeats and calls a winner only
// when the difference is larger than the noise between repeats.
//
// Winner rule (non-overlap): for each metric the group with the best mean is the candidate.
// With two or more runs in every group, it wins only when its min..max range does not overlap
// the range of any other group and its lead clears the metric's absolute floor (absFloor);
// otherwise the row says "within noise". Ranges rather than
// Welch's t-test because repeats are few (2–5) and the range rule is the stricter of the two at
// that size, needs no normality assumption and is easy to check by eye in the table. With a
// single run in some group there is no noise estimate: the candidate is marked only when it is
// at least twice as good as the runner-up (MinRelDiff of the larger value, and the metric's
// absolute floor), and the table says the call rests on single runs. Real single runs of the
// same profile differ by 30–50 % in tail latency, so a smaller lead would be noise.
package compare

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html"
	"github.com/faultline/faultline/reports/rundir"
)

// MinRelDiff is the lead a single-run candidate needs, as a share of the larger value: 0.5
// means twice as good.
const MinRelDiff = 0.5

// Units of metrics.
const (
	UnitMs    = "ms"
	UnitRatio = "ratio"
	UnitPerS  = "per_s"
	UnitS     = "s"
	UnitCount = "count"
)

// Calls a row can end with.
const (
	CallBest       = "best"
	CallNoise      = "within noise"
	CallTie        = "tie"
	CallNoCompare  = "" // fewer than two groups with data, or nothing to rank
	singleRunsNote = "single runs"
)

// Comparison is the side-by-side view of runs grouped by label.
type Comparison struct {
	Scenario string
	Groups   []Group
	// Rows per stream and phase: p50, p99, error rate and throughput.
	Streams []MetricRow
	// Rows about the machinery: breaker open/close times, requests shed, retries.
	Mechanisms []MetricRow
	// User impact per stream (share of fault-phase requests failed or too slow).
	UserImpact []MetricRow
	Sweep      *Sweep
	// Repeats is true when some label has more than one run.
	Repeats bool
}

// Group is the runs that share a label (a profile, or a sweep value), in input order.
type Group struct {
	Label   string
	Runs    []*reports.Results
	Samples [][]rundir.Sample // per run; nil entries when a run has none
}

// Verdicts summarises the group's verdicts, e.g. "pass ×3" or "pass ×2, fail ×1".
func (g Group) Verdicts() string {
	n := map[string]int{}
	var order []string
	for _, r := range g.Runs {
		v := r.Verdict
		if v == "" {
			v = "none"
		}
		if n[v] == 0 {
			order = append(order, v)
		}
		n[v]++
	}
	var parts []string
	for _, v := range order {
		parts = append(parts, fmt.Sprintf("%s ×%d", v, n[v]))
	}
	return strings.Join(parts, ", ")
}

// Reasons lists the distinct reasons the group's runs gave for their verdicts, in order.
func (g Group) Reasons() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range g.Runs {
		for _, why := range r.Reasons {
			if !seen[why] {
				seen[why] = true
				out = append(out, why)
			}
		}
	}
	return out
}

// AsExpected counts the group's runs that ended as their scenario expected.
func (g Group) AsExpected() int {
	n := 0
	for _, r := range g.Runs {
		if r.AsExpected {
			n++
		}
	}
	return n
}

// Stat summarises one metric over a group's runs.
type Stat struct {
	N                   int
	Mean, Min, Max, Std float64
}

// Of computes a Stat; NaN values are left out.
func Of(vs []float64) Stat {
	var s Stat
	var sum float64
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if s.N == 0 || v < s.Min {
			s.Min = v
		}
		if s.N == 0 || v > s.Max {
			s.Max = v
		}
		s.N++
		sum += v
	}
	if s.N == 0 {
		return s
	}
	s.Mean = sum / float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, v := range vs {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				ss += (v - s.Mean) * (v - s.Mean)
			}
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
	}
	return s
}

// MetricRow is one metric across groups.
type MetricRow struct {
	Stream, Phase, Metric string
	Unit                  string
	Better                int    // -1 lower is better, +1 higher is better, 0 not ranked
	Values                []Stat // one per group
	Winner                int    // index into Groups, -1 none
	Call                  string // CallBest, CallNoise, CallTie or ""
	Note                  string // e.g. "single runs"
}

// Sweep is set when every label is "param=value" for one param and every value is a number
// or a duration.
type Sweep struct {
	Param  string
	Values []float64 // per group; durations in seconds
	Unit   string    // "s" when the values were durations, else ""
}

// Compare groups runs by label (labels[i] names runs[i]; a missing or empty label falls back
// to the run's profile) and compares them. samples, when given, are per run, in the same order.
func Compare(runs []*reports.Results, labels []string, samples ...[]rundir.Sample) *Comparison {
	c := &Comparison{}
	idx := map[string]int{}
	for i, r := range runs {
		if r == nil {
			continue
		}
		if c.Scenario == "" {
			c.Scenario = r.Scenario
		}
		label := ""
		if i < len(labels) {
			label = labels[i]
		}
		if label == "" {
			label = r.Profile
		}
		if label == "" {
			label = fmt.Sprintf("run %d", i+1)
		}
		g, ok := idx[label]
		if !ok {
			g = len(c.Groups)
			idx[label] = g
			c.Groups = append(c.Groups, Group{Label: label})
		}
		c.Groups[g].Runs = append(c.Groups[g].Runs, r)
		var s []rundir.Sample
		if i < len(samples) {
			s = samples[i]
		}
		c.Groups[g].Samples = append(c.Groups[g].Samples, s)
		if len(c.Groups[g].Runs) > 1 {
			c.Repeats = true
		}
	}
	c.Streams = c.streamRows()
	c.Mechanisms = c.mechanismRows()
	c.UserImpact = c.impactRows()
	c.Sweep = detectSweep(c.Groups)
	return c
}

// row builds a metric row from one value per run (NaN: not measured) and judges it.
func (c *Comparison) row(stream, phase, metric, unit string, better int, value func(*reports.Results) float64) MetricRow {
	r := MetricRow{Stream: stream, Phase: phase, Metric: metric, Unit: unit, Better: better, Winner: -1}
	for _, g := range c.Groups {
		var vs []float64
		for _, run := range g.Runs {
			vs = append(vs, value(run))
		}
		r.Values = append(r.Values, Of(vs))
	}
	judge(&r)
	return r
}

// judge applies the winner rule of the package comment: the best mean must clear every other
// group, by range non-overlap where both have repeats and by a MinRelDiff lead otherwise.
func judge(r *MetricRow) {
	if r.Better == 0 {
		return
	}
	var have []int
	for i, s := range r.Values {
		if s.N > 0 {
			have = append(have, i)
		}
	}
	if len(have) < 2 {
		return
	}
	better := func(a, b float64) bool {
		if r.Better < 0 {
			return a < b
		}
		return a > b
	}
	sort.SliceStable(have, func(i, j int) bool { return better(r.Values[have[i]].Mean, r.Values[have[j]].Mean) })
	best := r.Values[have[0]]
	if best.Mean == r.Values[have[1]].Mean {
		r.Call = CallTie
		return
	}
	clearAll := true
	for _, o := range have[1:] {
		ov := r.Values[o]
		var clear bool
		if best.N >= 2 && ov.N >= 2 {
			clear = best.Max < ov.Min
			if r.Better > 0 {
				clear = best.Min > ov.Max
			}
			// Seeded repeats of a deterministic schedule can have ranges narrower than any
			// difference worth a word (goodput 100.10/s against 100.08/s: one request): the
			// lead must also clear the unit's floor, as for single runs.
			clear = clear && math.Abs(best.Mean-ov.Mean) >= absFloor(r.Unit)
		} else {
			r.Note = singleRunsNote
			diff := math.Abs(best.Mean - ov.Mean)
			ref := math.Max(math.Abs(best.Mean), math.Abs(ov.Mean))
			clear = diff >= MinRelDiff*ref && diff >= absFloor(r.Unit)
		}
		clearAll = clearAll && clear
	}
	if !clearAll {
		r.Call = CallNoise
		return
	}
	r.Winner, r.Call = have[0], CallBest
}

// absFloor is the smallest difference worth a call, per unit.
func absFloor(unit string) float64 {
	switch unit {
	case UnitMs:
		return 0.5
	case UnitRatio:
		return 0.001
	case UnitS:
		return 0.1
	case UnitPerS:
		return 0.5
	}
	return 1
}

var nan = math.NaN()

func figure(r *reports.Results, stream, phase string) (reports.PhaseFigure, bool) {
	for _, s := range r.Streams {
		if s.Name == stream {
			for _, f := range s.Phases {
				if f.Phase == phase {
					return f, true
				}
			}
		}
	}
	return reports.PhaseFigure{}, false
}

// streamsAndPhases lists stream names and phase names in first-seen order over all runs.
func (c *Comparison) streamsAndPhases() (streams, phases []string) {
	seenS, seenP := map[string]bool{}, map[string]bool{"all": true}
	for _, g := range c.Groups {
		for _, r := range g.Runs {
			for _, p := range r.Phases {
				if !seenP[p.Name] {
					seenP[p.Name] = true
					phases = append(phases, p.Name)
				}
			}
			for _, s := range r.Streams {
				if !seenS[s.Name] {
					seenS[s.Name] = true
					streams = append(streams, s.Name)
				}
				for _, f := range s.Phases {
					if !seenP[f.Phase] {
						seenP[f.Phase] = true
						phases = append(phases, f.Phase)
					}
				}
			}
		}
	}
	return streams, phases
}

func (c *Comparison) streamRows() []MetricRow {
	streams, phases := c.streamsAndPhases()
	var rows []MetricRow
	for _, s := range streams {
		for _, p := range phases {
			get := func(f func(reports.PhaseFigure) float64) func(*reports.Results) float64 {
				return func(r *reports.Results) float64 {
					fig, ok := figure(r, s, p)
					if !ok || fig.Requests == 0 {
						return nan
					}
					return f(fig)
				}
			}
			rows = append(rows,
				c.okRow(s, p, MetricP50OK, 50, func(f reports.PhaseFigure) *float64 { return f.OKP50Ms }),
				c.okRow(s, p, MetricP99OK, 99, func(f reports.PhaseFigure) *float64 { return f.OKP99Ms }),
				c.row(s, p, "errors", UnitRatio, -1, get(func(f reports.PhaseFigure) float64 { return f.ErrorRate })),
				c.row(s, p, "throughput", UnitPerS, +1, get(func(f reports.PhaseFigure) float64 {
					// Open model: throughput is the successful rate; failures do not count.
					return f.AchievedRate * (1 - f.ErrorRate)
				})),
			)
		}
	}
	return rows
}

func (c *Comparison) mechanismRows() []MetricRow {
	edges := map[string]bool{}
	for _, g := range c.Groups {
		for _, r := range g.Runs {
			if r.Mechanisms == nil {
				continue
			}
			for _, b := range r.Mechanisms.Breakers {
				edges[b.Edge] = true
			}
		}
	}
	var names []string
	for e := range edges {
		names = append(names, e)
	}
	sort.Strings(names)
	var rows []MetricRow
	breaker := func(edge string, f func(reports.BreakerSummary) *float64) func(*reports.Results) float64 {
		return func(r *reports.Results) float64 {
			if r.Mechanisms == nil {
				return nan
			}
			for _, b := range r.Mechanisms.Breakers {
				if b.Edge == edge && f(b) != nil {
					return *f(b)
				}
			}
			return nan
		}
	}
	for _, e := range names {
		rows = append(rows,
			c.row(e, "", "breaker open after fault start", UnitS, -1, breaker(e, func(b reports.BreakerSummary) *float64 { return b.OpenAfterS })),
			c.row(e, "", "breaker closed after heal", UnitS, -1, breaker(e, func(b reports.BreakerSummary) *float64 { return b.ClosedAfterS })))
	}
	sum := func(pick func(*reports.Mechanisms) []map[string]int) func(*reports.Results) float64 {
		return func(r *reports.Results) float64 {
			if r.Mechanisms == nil {
				return nan
			}
			n := 0
			for _, m := range pick(r.Mechanisms) {
				for _, v := range m {
					n += v
				}
			}
			return float64(n)
		}
	}
	rows = append(rows,
		c.row("", "", "requests shed (bulkhead + rate limited)", UnitCount, 0, sum(func(m *reports.Mechanisms) []map[string]int {
			return []map[string]int{m.BulkheadRejections, m.RateLimited}
		})),
		c.row("", "", "retries", UnitCount, 0, sum(func(m *reports.Mechanisms) []map[string]int { return []map[string]int{m.Retries} })),
		c.row("", "", "fallbacks", UnitCount, 0, sum(func(m *reports.Mechanisms) []map[string]int { return []map[string]int{m.Fallbacks} })),
		c.row("", "", "timeouts", UnitCount, 0, sum(func(m *reports.Mechanisms) []map[string]int { return []map[string]int{m.Timeouts} })),
	)
	return rows
}

func (c *Comparison) impactRows() []MetricRow {
	streams, _ := c.streamsAndPhases()
	var rows []MetricRow
	for _, s := range streams {
		rows = append(rows, c.row(s, reports.PhaseFault, "user impact", UnitRatio, -1, func(r *reports.Results) float64 {
			if r.BlastRadius == nil {
				return nan
			}
			v, ok := r.BlastRadius.UserImpact[s]
			if !ok {
				return nan
			}
			return v
		}))
	}
	return rows
}

// detectSweep recognises labels like "circuit_breaker.failure_ratio=0.3" sharing one param.
func detectSweep(gs []Group) *Sweep {
	if len(gs) < 2 {
		return nil
	}
	sw := &Sweep{}
	for _, g := range gs {
		k, v, ok := strings.Cut(g.Label, "=")
		if !ok {
			return nil
		}
		v = strings.TrimSpace(v)
		x, err := strconv.ParseFloat(v, 64)
		unit := ""
		if err != nil {
			d, derr := time.ParseDuration(v)
			if derr != nil {
				return nil
			}
			x, unit = d.Seconds(), "s"
		}
		if len(sw.Values) > 0 && unit != sw.Unit {
			return nil // numbers and durations do not share an axis
		}
		sw.Unit = unit
		k = strings.TrimSpace(k)
		if sw.Param == "" {
			sw.Param = k
		} else if sw.Param != k {
			return nil
		}
		sw.Values = append(sw.Values, x)
	}
	return sw
}

// Format renders a value of unit u the way reports print it.
func Format(v float64, u string) string {
	switch u {
	case UnitMs:
		return html.FormatMs(v)
	case UnitRatio:
		return html.FormatPct(v)
	case UnitPerS:
		return strconv.FormatFloat(round(v, 1), 'f', -1, 64) + "/s"
	case UnitS:
		return fmt.Sprintf("%.2f s", v)
	}
	return html.FormatNum(v)
}

func round(v float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(v*p) / p
}

// Cell is a Stat as text: the mean, and with repeats the range and n.
func Cell(s Stat, unit string) string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 {
		return Format(s.Mean, unit)
	}
	if s.Min == s.Max {
		return fmt.Sprintf("%s (n=%d)", Format(s.Mean, unit), s.N)
	}
	return fmt.Sprintf("%s (%s–%s, n=%d)", Format(s.Mean, unit), Format(s.Min, unit), Format(s.Max, unit), s.N)
}
