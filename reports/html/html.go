// Package html renders a run as one self-contained HTML page: charts inline, no scripts, no
// network, printable.
package html

import (
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/faultline/faultline/internal/atomicfile"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/charts"
	"github.com/faultline/faultline/reports/rundir"
)

//go:embed assets/report.css
var css string

//go:embed assets/report.html.tmpl
var pageTmpl string

// CSS is the stylesheet every Faultline page shares (the comparison page uses it too).
func CSS() template.CSS { return template.CSS(css) }

var page = template.Must(template.New("report").Funcs(Funcs).Parse(pageTmpl))

// RenderDir writes RUN_DIR/report.html from the run directory alone.
func RenderDir(runDir string) error {
	run, err := rundir.Load(runDir)
	if err != nil {
		return err
	}
	// Written whole or not at all, so a failed render never leaves half a page behind.
	return atomicfile.Write(filepath.Join(runDir, rundir.ReportFile), 0o644, func(w io.Writer) error {
		return RenderRun(w, run)
	})
}

// Render writes the report of one run. samples and scenarioYAML may be nil.
func Render(w io.Writer, res *reports.Results, samples []rundir.Sample, scenarioYAML []byte) error {
	return RenderRun(w, &rundir.Run{Results: res, Samples: samples, Scenario: scenarioYAML})
}

// RenderRun writes the report of a loaded run directory.
func RenderRun(w io.Writer, run *rundir.Run) error {
	if run == nil || run.Results == nil {
		return errors.New("report: no results")
	}
	v := newView(run.Results, run.Samples, run.Scenario)
	if run.SamplesErr != nil {
		v.SamplesNote = fmt.Sprintf("samples.csv could not be read (%v): drawn from the percentiles recorded in results.json.", run.SamplesErr)
	}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// Chart is one figure of a page.
type Chart struct {
	ID      string
	Title   string
	SVG     template.HTML
	Caption string
	Err     string
}

// NewChart wraps a charts result; a failed chart shows its error instead of sinking the page.
func NewChart(id, title, caption string, svg string, err error) Chart {
	c := Chart{ID: id, Title: title, Caption: caption, SVG: template.HTML(svg)} // svg is built by package charts, escaped there
	if err != nil {
		c.SVG, c.Err = "", err.Error()
	}
	return c
}

type view struct {
	R            *reports.Results
	CSS          template.CSS
	Title        string
	Banner       string // class: pass | fail | xfail (a negative control's expected fail) | aborted | halted | error
	BannerText   string // what the banner says
	Headline     string
	Streams      []reports.StreamResult
	SLOs         []reports.SLOResult
	SLOPassed    int
	Dist         []Chart
	MapChart     Chart
	MechChart    Chart
	TimeCharts   []Chart
	Phases       []reports.PhaseWindow
	Scenario     string
	SamplesNote  string
	UserImpact   []kv
	Tiles        []tile
	Counts       []countRow
	DroppedTotal int
}

// tile is one figure of the "at a glance" strip under the verdict.
type tile struct {
	Title  string
	Big    string // the figure
	Detail string
	Bad    bool
}

type kv struct {
	K string
	V float64
}

type countRow struct {
	Name                                                string
	Retries, Bulkhead, Fallbacks, Timeouts, RateLimited int
	RetriesPerRequest                                   float64
	MaxRetriesPerCall                                   int
	HasRetryData                                        bool // mean and most were measured
	Gap                                                 *reports.RetryGap
}

func newView(res *reports.Results, samples []rundir.Sample, scenario []byte) *view {
	v := &view{R: res, CSS: CSS(), Scenario: string(scenario), Phases: res.Phases}
	v.Title = res.Scenario
	if v.Title == "" {
		v.Title = "Faultline run"
	}
	v.Banner = res.Verdict
	switch {
	case !res.Valid && res.Verdict == reports.VerdictPass:
		v.Banner = reports.VerdictError
	case v.Banner == "":
		v.Banner = reports.VerdictError
	}
	v.BannerText = v.Banner
	if res.Verdict == reports.VerdictFail && res.AsExpected && res.ExpectedVerdict == reports.VerdictFail {
		// A negative control that failed is the check doing its job, not a regression: it
		// gets its own look, as "as expected: yes" on the final table.
		v.Banner, v.BannerText = "xfail", "fail · as expected"
	}
	v.Headline = headline(res)
	v.Streams = res.Streams
	v.SLOs = append(v.SLOs, res.SLOs...)
	for _, s := range res.SLOs {
		if s.Pass {
			v.SLOPassed++
		}
	}
	for i, name := range charts.StreamNames(res) {
		svg, err := charts.LatencyOverTime(res, name)
		v.TimeCharts = append(v.TimeCharts, NewChart(fmt.Sprintf("latency-%d", i), "Latency over time: "+name,
			"Per second: median (p50), p99 and the slowest request. Shaded: faults active.", svg, err))
	}
	svg, err := charts.ErrorsAndThroughput(res)
	v.TimeCharts = append(v.TimeCharts, NewChart("throughput", "Throughput and errors",
		"Per second of scheduled sends: requests that succeeded (solid) and that failed (dashed), per stream.", svg, err))
	v.Dist, v.SamplesNote = distributions(res, samples)
	svg, err = charts.ServiceMap(res)
	v.MapChart = NewChart("service-map", "Service map", "Learned from spans. Node colour: blast radius of the faults.", svg, err)
	svg, err = charts.MechanismsTimeline(res)
	v.MechChart = NewChart("mechanisms", "Mechanisms timeline", "Circuit-breaker state per edge over time, with what each edge's other mechanisms did.", svg, err)
	if br := res.BlastRadius; br != nil {
		for k, x := range br.UserImpact {
			v.UserImpact = append(v.UserImpact, kv{k, x})
		}
		sort.Slice(v.UserImpact, func(i, j int) bool { return v.UserImpact[i].K < v.UserImpact[j].K })
	}
	v.Counts = countRows(res.Mechanisms)
	v.Tiles = tiles(res)
	if ds := res.DataSafety; ds != nil {
		for _, n := range ds.DroppedClicks {
			v.DroppedTotal += n
		}
	}
	return v
}

// tiles sums the run up per stream (fault-phase p99 against the baseline, errors, SLOs) and
// adds breakers and data safety, so the page can be read in five seconds.
func tiles(res *reports.Results) []tile {
	var out []tile
	for _, s := range res.Streams {
		base, okB := figureOf(res, s.Name, reports.PhaseBaseline)
		fault, okF := figureOf(res, s.Name, reports.PhaseFault)
		if !okF {
			fault, okF = figureOf(res, s.Name, "all")
		}
		if !okF {
			continue
		}
		t := tile{Title: s.Name, Big: "p99 " + FormatMs(fault.P99Ms)}
		if okB && base.P99Ms > 0 && fault.Phase == reports.PhaseFault {
			t.Detail = fmt.Sprintf("fault phase, ×%.1f baseline (%s)", fault.P99Ms/base.P99Ms, FormatMs(base.P99Ms))
		} else {
			t.Detail = fault.Phase + " phase"
		}
		t.Detail += " · errors " + FormatPct(fault.ErrorRate)
		if br := res.BlastRadius; br != nil {
			if ui, ok := br.UserImpact[s.Name]; ok {
				t.Detail += " · user impact " + FormatPct(ui)
			}
		}
		for _, slo := range res.SLOs {
			if slo.Stream == s.Name && !slo.Pass {
				t.Bad = true
			}
		}
		out = append(out, t)
	}
	if m := res.Mechanisms; m != nil && len(m.Breakers) > 0 {
		opened := 0
		for _, b := range m.Breakers {
			if b.Opened {
				opened++
			}
		}
		out = append(out, tile{Title: "circuit breakers", Big: fmt.Sprintf("%d of %d opened", opened, len(m.Breakers)), Detail: fmt.Sprintf("%d state changes", len(m.BreakerTransitions))})
	}
	if ds := res.DataSafety; ds != nil {
		lost := ds.LostLinks + ds.MissingClicks + ds.LostLinkEvents
		dup := ds.DuplicateClicks + ds.DuplicateLinkEvents
		bad := lost+dup > 0 || ds.Error != ""
		big := "no data lost"
		if bad {
			big = fmt.Sprintf("%d lost · %d dup", lost, dup)
		}
		out = append(out, tile{Title: "data safety", Big: big, Detail: fmt.Sprintf("%s links, %s clicks checked", FormatNum(ds.LinksChecked), FormatNum(ds.ClicksCounted)), Bad: bad})
	}
	return out
}

// headline is the one sentence under the verdict.
func headline(res *reports.Results) string {
	switch {
	case res.Halt != nil:
		return fmt.Sprintf("Halted at %.1f s by %s: the load stopped and every fault was healed early, so this run proves nothing.", res.Halt.AtS, orDash(res.Halt.By))
	case res.Verdict == reports.VerdictFail && res.AsExpected && res.ExpectedVerdict == reports.VerdictFail:
		return "Negative control: the scenario expects this run to fail, and it did — the checks caught the weakness. Not a regression."
	case res.Abort != nil:
		return fmt.Sprintf("Aborted at %.1f s: %s.", res.Abort.AtS, res.Abort.Condition)
	case res.AsExpected:
		return fmt.Sprintf("As expected (the scenario expects %s).", orDash(res.ExpectedVerdict))
	default:
		return fmt.Sprintf("Not as expected: the scenario expects %s, the run gave %s.", orDash(res.ExpectedVerdict), orDash(res.Verdict))
	}
}

// distributions draws one percentile plot per stream, one line per phase, from the raw
// samples when there are any and from the recorded percentiles otherwise.
func distributions(res *reports.Results, samples []rundir.Sample) ([]Chart, string) {
	byStreamPhase := map[string]map[string][]float64{}
	for _, s := range samples {
		if byStreamPhase[s.Stream] == nil {
			byStreamPhase[s.Stream] = map[string][]float64{}
		}
		byStreamPhase[s.Stream][s.Phase] = append(byStreamPhase[s.Stream][s.Phase], s.LatencyMs)
	}
	note := "From every request in samples.csv (exact percentiles)."
	if len(samples) == 0 {
		note = "samples.csv is missing: drawn from the percentiles recorded in results.json (p50, p90, p95, p99, max)."
	}
	var out []Chart
	for i, name := range charts.StreamNames(res) {
		var ds []charts.Distribution
		for _, ph := range phaseNames(res) {
			d := charts.Distribution{Name: ph}
			if len(samples) > 0 {
				d.LatenciesMs = byStreamPhase[name][ph]
				if len(d.LatenciesMs) == 0 {
					continue
				}
			} else {
				f, ok := figureOf(res, name, ph)
				if !ok || f.Requests == 0 {
					continue
				}
				d.Percentiles = []charts.Percentile{{Q: 0, Ms: 0}, {Q: 50, Ms: f.P50Ms}, {Q: 90, Ms: f.P90Ms}, {Q: 95, Ms: f.P95Ms}, {Q: 99, Ms: f.P99Ms}, {Q: 100, Ms: f.MaxMs}}
				d.Percentiles = d.Percentiles[1:]
			}
			ds = append(ds, d)
		}
		svg, err := charts.LatencyDistribution("Latency distribution — "+name, ds)
		out = append(out, NewChart(fmt.Sprintf("dist-%d", i), "Latency distribution: "+name,
			"Latency by percentile, one line per phase; the axis stretches the tail (90 %, 99 %, 99.9 % …).", svg, err))
	}
	return out, note
}

// phaseNames lists the run's phases in order, then any other phase the streams report
// (never the "all" aggregate).
func phaseNames(res *reports.Results) []string {
	seen := map[string]bool{"all": true}
	var out []string
	for _, p := range res.Phases {
		if !seen[p.Name] {
			seen[p.Name] = true
			out = append(out, p.Name)
		}
	}
	for _, s := range res.Streams {
		for _, f := range s.Phases {
			if !seen[f.Phase] {
				seen[f.Phase] = true
				out = append(out, f.Phase)
			}
		}
	}
	return out
}

func figureOf(res *reports.Results, stream, phase string) (reports.PhaseFigure, bool) {
	for _, s := range res.Streams {
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

func countRows(m *reports.Mechanisms) []countRow {
	if m == nil {
		return nil
	}
	names := map[string]bool{}
	for _, mp := range []map[string]int{m.Retries, m.BulkheadRejections, m.Fallbacks, m.Timeouts} {
		for k := range mp {
			names[k] = true
		}
	}
	for k := range m.RetriesPerRequest {
		names[k] = true
	}
	var rows []countRow
	for k := range names {
		r := countRow{Name: k, Retries: m.Retries[k], Bulkhead: m.BulkheadRejections[k], Fallbacks: m.Fallbacks[k],
			Timeouts: m.Timeouts[k], RetriesPerRequest: m.RetriesPerRequest[k], MaxRetriesPerCall: m.MaxRetriesPerCall[k]}
		_, r.HasRetryData = m.RetriesPerRequest[k]
		if g, ok := m.RetryGaps[k]; ok {
			r.Gap = &g
		}
		rows = append(rows, r)
	}
	for k, n := range m.RateLimited {
		rows = append(rows, countRow{Name: "route " + k, RateLimited: n})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// Funcs are the formatting helpers of Faultline's templates.
var Funcs = template.FuncMap{
	"ms":   FormatMs,
	"pct":  FormatPct,
	"num":  FormatNum,
	"secs": func(s float64) string { return fmt.Sprintf("%.1f s", s) },
	"sub":  func(a, b float64) float64 { return a - b },
	"secsPtr": func(s *float64) string {
		if s == nil {
			return "—"
		}
		return fmt.Sprintf("%.2f s", *s)
	},
	"dash": orDash,
	// noImpact: no stream lost a request to the faults. A path that reached the entry point
	// then reached it harmlessly (a retried or absorbed error), which must not read as an alarm.
	"noImpact": func(impact map[string]float64) bool {
		for _, v := range impact {
			if v > 0 {
				return false
			}
		}
		return len(impact) > 0
	},
	"join":   strings.Join,
	"params": params,
	"value":  sloValue,
	"passfail": func(ok bool) string {
		if ok {
			return "pass"
		}
		return "fail"
	},
}

// FormatMs prints a latency the way people read it: 0.84 ms, 12.3 ms, 204 ms, 2.00 s.
func FormatMs(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// FormatPct prints a 0..1 ratio as a percentage with the precision small rates need.
func FormatPct(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "—"
	case r == 0:
		return "0%"
	case r < 0.001:
		return fmt.Sprintf("%.3f%%", r*100)
	case r < 0.1:
		return fmt.Sprintf("%.2f%%", r*100)
	default:
		return fmt.Sprintf("%.1f%%", r*100)
	}
}

// FormatNum prints a count or rate with thousands separators.
func FormatNum(v any) string {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		return fmt.Sprint(v)
	}
	neg := f < 0
	f = math.Abs(f)
	s := fmt.Sprintf("%.0f", math.Floor(f))
	if frac := f - math.Floor(f); frac > 0.0005 && f < 1000 {
		s = strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".")
		return sign(neg) + s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign(neg) + b.String()
}

func sign(neg bool) string {
	if neg {
		return "-"
	}
	return ""
}

func params(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

func sloValue(s reports.SLOResult) string {
	if s.NoData {
		return "no data"
	}
	switch s.Unit {
	case "ms":
		return FormatMs(s.Value)
	case "ratio":
		return FormatPct(s.Value)
	case "per_s":
		return FormatNum(s.Value) + "/s"
	}
	return FormatNum(s.Value) + " " + s.Unit
}
