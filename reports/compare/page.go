package compare

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/charts"
	"github.com/faultline/faultline/reports/html"
)

//go:embed compare.html.tmpl
var pageTmpl string

var page = template.Must(template.New("compare").Funcs(html.Funcs).Funcs(template.FuncMap{
	"cell": Cell,
}).Parse(pageTmpl))

type pageView struct {
	C       *Comparison
	CSS     template.CSS
	Rule    string
	Charts  []html.Chart
	Dist    []html.Chart
	Sweep   []html.Chart
	SweepH  []string
	SweepR  [][]string
	Streams []streamBlock
}

type streamBlock struct {
	Name string
	Rows []rowView
}

type rowView struct {
	MetricRow
	Cells []cellView
	Text  string
}

type cellView struct {
	Text   string
	Winner bool
}

// HTML writes the comparison as one self-contained page, like the run report.
func (c *Comparison) HTML(w io.Writer) error {
	v := pageView{C: c, CSS: html.CSS(), Rule: RuleText(c.Repeats)}
	var cur *streamBlock
	for _, r := range c.Streams {
		if cur == nil || cur.Name != r.Stream {
			v.Streams = append(v.Streams, streamBlock{Name: r.Stream})
			cur = &v.Streams[len(v.Streams)-1]
		}
		cur.Rows = append(cur.Rows, c.rowView(r))
	}
	streams, _ := c.streamsAndPhases()
	for i, s := range streams {
		svg, err := c.overlay(s)
		v.Charts = append(v.Charts, html.NewChart(fmt.Sprintf("overlay-%d", i), "p99 over time: "+s,
			"p99 per second, one line per run; shaded: the first run's faults.", svg, err))
		if d, ok := c.distribution(s); ok {
			svg, err := charts.LatencyDistribution("Fault-phase latency distribution — "+s, d)
			v.Dist = append(v.Dist, html.NewChart(fmt.Sprintf("dist-%d", i), "Fault-phase latency distribution: "+s,
				"All fault-phase requests of each label's runs, pooled.", svg, err))
		}
	}
	if c.Sweep != nil {
		v.SweepH, v.SweepR = c.SweepTable()
		for i, m := range []struct{ phase, metric, unit, title string }{
			{"fault", MetricP99OK, "latency of successes (ms)", "Fault-phase p99 of successful requests"},
			{"fault", "errors", "error rate (%)", "Fault-phase error rate"},
		} {
			svg, err := c.sweepChart(m.phase, m.metric, m.unit, m.title)
			v.Sweep = append(v.Sweep, html.NewChart(fmt.Sprintf("sweep-%d", i), m.title+" against "+c.Sweep.Param,
				"Mean over repeats per value, bars from the lowest to the highest run; one line per stream.", svg, err))
		}
	}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return nil
}

// Highlights are the rows with a clear winner, as sentences, fault phase first.
func (v pageView) Highlights() []string { return v.C.Highlights() }

// Rows for the template: the mechanism and user-impact tables.
func (v pageView) MechRows() []rowView   { return v.rows(v.C.Mechanisms) }
func (v pageView) ImpactRows() []rowView { return v.rows(v.C.UserImpact) }

func (v pageView) rows(rs []MetricRow) []rowView {
	var out []rowView
	for _, r := range rs {
		out = append(out, v.C.rowView(r))
	}
	return out
}

func (c *Comparison) rowView(r MetricRow) rowView {
	rv := rowView{MetricRow: r, Text: c.CallText(r)}
	for i, s := range r.Values {
		rv.Cells = append(rv.Cells, cellView{Text: Cell(s, r.Unit), Winner: i == r.Winner})
	}
	return rv
}

// runName names one run in legends: the label, numbered when the label repeats.
func (c *Comparison) runName(g Group, i int) string {
	label := c.Short(g.Label)
	if len(g.Runs) == 1 {
		return label
	}
	return fmt.Sprintf("%s #%d", label, i+1)
}

// Short shortens a sweep label for legends: "circuit_breaker.failure_ratio=0.3" → "failure_ratio=0.3".
func (c *Comparison) Short(label string) string {
	if c.Sweep == nil {
		return label
	}
	k, v, _ := strings.Cut(label, "=")
	if i := strings.LastIndex(k, "."); i >= 0 {
		k = k[i+1:]
	}
	return k + "=" + v
}

// overlay draws one stream's p99 per second, one line per run, coloured by label.
func (c *Comparison) overlay(stream string) (string, error) {
	var ss []charts.Series
	var windows []charts.Window
	end := 0.0
	for gi, g := range c.Groups {
		for ri, r := range g.Runs {
			if windows == nil {
				windows = charts.FaultWindows(r)
			}
			end = max(end, r.DurationS)
			var xs, ys []float64
			bs := append([]reports.TimeBucket(nil), r.Timeseries...)
			sort.SliceStable(bs, func(i, j int) bool { return bs[i].T < bs[j].T })
			for _, b := range bs {
				if b.Stream == stream && b.Requests > 0 && !(r.DurationS > 0 && r.DurationS-b.T < 0.5) { // skip a sliver of a last second
					xs = append(xs, b.T)
					ys = append(ys, b.P99Ms)
					end = max(end, b.T+1)
				}
			}
			ss = append(ss, charts.Series{Name: c.runName(g, ri), X: xs, Y: ys, Colour: charts.Colour(gi), Dashed: ri%2 == 1, Thin: ri > 0})
		}
	}
	logY := false
	var all []float64
	for _, s := range ss {
		all = append(all, s.Y...)
	}
	if len(all) > 1 {
		sort.Float64s(all)
		logY = all[len(all)/2] > 0 && all[len(all)-1]/all[len(all)/2] >= 20
	}
	return charts.Lines(charts.LineChart{
		Title: "p99 over time — " + stream, XLabel: "seconds since start", YLabel: "p99 latency (ms)",
		Series: ss, Windows: windows, XMin: 0, XMax: max(end, 1), LogY: logY,
	})
}

// distribution pools each label's fault-phase samples of one stream.
func (c *Comparison) distribution(stream string) ([]charts.Distribution, bool) {
	var ds []charts.Distribution
	found := false
	for _, g := range c.Groups {
		d := charts.Distribution{Name: g.Label}
		for _, ss := range g.Samples {
			for _, s := range ss {
				if s.Stream == stream && s.Phase == reports.PhaseFault {
					d.LatenciesMs = append(d.LatenciesMs, s.LatencyMs)
				}
			}
		}
		if len(d.LatenciesMs) > 0 {
			found = true
			ds = append(ds, d)
		}
	}
	return ds, found
}

// sweepChart draws a metric's mean against the swept parameter, one line per stream.
func (c *Comparison) sweepChart(phase, metric, yLabel, title string) (string, error) {
	streams, _ := c.streamsAndPhases()
	type pt struct{ x, y, lo, hi float64 }
	var ss []charts.Series
	for i, s := range streams {
		r, ok := c.find(c.Streams, s, phase, metric)
		if !ok {
			continue
		}
		var pts []pt
		for gi, st := range r.Values {
			if st.N == 0 {
				continue
			}
			scale := 1.0
			if r.Unit == UnitRatio {
				scale = 100
			}
			pts = append(pts, pt{c.Sweep.Values[gi], st.Mean * scale, st.Min * scale, st.Max * scale})
		}
		sort.Slice(pts, func(a, b int) bool { return pts[a].x < pts[b].x })
		se := charts.Series{Name: s, Colour: charts.Colour(i), Points: true}
		for _, p := range pts {
			se.X, se.Y = append(se.X, p.x), append(se.Y, p.y)
			se.YLo, se.YHi = append(se.YLo, p.lo), append(se.YHi, p.hi)
		}
		ss = append(ss, se)
	}
	lo, hi := 0.0, 1.0
	for i, v := range c.Sweep.Values {
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	pad := (hi - lo) * 0.05
	if pad == 0 {
		pad = 0.5
	}
	xLabel := c.Sweep.Param
	if c.Sweep.Unit != "" {
		xLabel += " (" + c.Sweep.Unit + ")"
	}
	return charts.Lines(charts.LineChart{Title: title + " vs " + c.Sweep.Param, XLabel: xLabel, YLabel: yLabel,
		Series: ss, XMin: lo - pad, XMax: hi + pad})
}
