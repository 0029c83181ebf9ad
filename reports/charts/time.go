package charts

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
)

// Window is a span of the run to shade, such as an active fault.
type Window struct {
	StartS, EndS float64
	Label        string
}

// FaultWindows lists the faults of a run as windows; a fault never healed lasts to the end.
func FaultWindows(res *reports.Results) []Window {
	var ws []Window
	for _, f := range res.Faults {
		if f.Background {
			continue // the environment: shading the whole run would hide the real windows
		}
		end := f.HealedAt
		if end <= f.AppliedAt {
			end = res.DurationS
		}
		ws = append(ws, Window{StartS: f.AppliedAt, EndS: end, Label: f.Fault + " " + f.Target})
	}
	return ws
}

// Series is one line of a line chart.
type Series struct {
	Name   string
	X, Y   []float64
	Colour color.Color // nil: palette by position
	Dashed bool
	Thin   bool
	Points bool // draw a marker on each point (few points, e.g. a sweep)
	// YLo and YHi, when set (same length as Y), draw a range bar at each point, e.g. the
	// min..max of repeated runs.
	YLo, YHi []float64
}

// LineChart describes a chart of lines over a shared x axis.
type LineChart struct {
	Title, XLabel, YLabel string
	Series                []Series
	Windows               []Window
	XMin, XMax            float64 // both zero: from the data
	YMin                  float64
	LogY                  bool // log scale; values ≤ 0 are raised to the smallest positive value
	XTicks                plot.Ticker
	Height                vg.Length // zero: Height
	Refs                  []Ref     // horizontal reference segments, e.g. SLO thresholds
}

// Ref is a horizontal reference line over part of the x axis, such as a latency SLO over the
// phase it applies to.
type Ref struct {
	Y        float64
	From, To float64
	Label    string
	Broken   bool // drawn in red: the observed value broke it
}

// Lines draws a line chart; it is the building block of the time charts and of comparisons.
func Lines(lc LineChart) (string, error) {
	p := newPlot(lc.XLabel, lc.YLabel)
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridColour, gridColour
	p.Add(grid, &shade{windows: lc.Windows})
	var items []legendItem
	floor := positiveFloor(lc.Series)
	ymax := math.Inf(-1)
	drawn := 0
	refItem := -1 // the legend's SLO line, which says which thresholds are off the scale
	for i, s := range lc.Series {
		pts := points(s, lc.LogY, floor)
		if len(pts) == 0 {
			continue
		}
		for _, pt := range pts {
			ymax = math.Max(ymax, pt.Y)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return "", fmt.Errorf("charts: %s: %w", lc.Title, err)
		}
		l.LineStyle = lineStyle(s, i)
		p.Add(l)
		if s.Points {
			sc, err := plotter.NewScatter(pts)
			if err == nil {
				sc.GlyphStyle = draw.GlyphStyle{Color: l.LineStyle.Color, Radius: 3, Shape: draw.CircleGlyph{}}
				p.Add(sc)
			}
		}
		if bars := rangeBars(s, l.LineStyle); bars != nil {
			p.Add(bars)
			for _, v := range s.YHi {
				if finite(v) {
					ymax = math.Max(ymax, v)
				}
			}
		}
		ls := l.LineStyle
		items = append(items, legendItem{Name: s.Name, Line: &ls})
		drawn++
	}
	if len(lc.Refs) > 0 {
		p.Add(&refs{refs: lc.Refs})
		// Stretch the axis to a threshold only when it is near the data: one far above would
		// flatten every line into the floor (and a far-off threshold is met anyway).
		dataMax := ymax
		for _, r := range lc.Refs {
			if finite(r.Y) && r.Y > 0 && (drawn == 0 || r.Y <= 2*dataMax) {
				ymax = math.Max(ymax, r.Y)
			}
		}
		ls := refStyle(false)
		refItem = len(items)
		items = append(items, legendItem{Name: "SLO threshold", Line: &ls})
	}
	if len(lc.Windows) > 0 {
		items = append(items, legendItem{Name: "fault active", Fill: faultFill})
	}
	if lc.XMin != 0 || lc.XMax != 0 {
		p.X.Min, p.X.Max = lc.XMin, lc.XMax
	}
	if lc.XTicks != nil {
		p.X.Tick.Marker = lc.XTicks
	} else {
		p.X.Tick.Marker = stepTicks{}
	}
	if drawn == 0 {
		// Keep an honest empty frame rather than failing the whole report.
		p.Add(&note{text: "no data"})
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, math.Max(lc.XMax, 1), 0, 1
	} else if lc.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
		p.Y.Min = math.Min(p.Y.Min, floor)
		// Head room so labels of the shaded windows never sit on the lines.
		p.Y.Max = math.Max(p.Y.Max, ymax*1.8)
	} else {
		p.Y.Tick.Marker = stepTicks{}
		p.Y.Min = math.Min(lc.YMin, p.Y.Min)
		p.Y.Max = math.Max(p.Y.Max, ymax*1.15)
		if p.Y.Max <= p.Y.Min {
			p.Y.Max = p.Y.Min + 1
		}
	}
	if refItem >= 0 {
		items[refItem].Name = refLegend(lc.Refs, p.Y.Min, p.Y.Max, lc.LogY && drawn > 0)
	}
	h := lc.Height
	if h == 0 {
		h = Height
	}
	return render(p, lc.Title, items, Width, h)
}

// rangeBars draws YLo..YHi around each point; nil when the series has no ranges.
func rangeBars(s Series, ls draw.LineStyle) *plotter.YErrorBars {
	n := min(len(s.X), len(s.Y))
	if len(s.YLo) != n || len(s.YHi) != n || n == 0 {
		return nil
	}
	type xyErr struct {
		plotter.XYs
		plotter.YErrors
	}
	var d xyErr
	for i := range n {
		if !finite(s.X[i]) || !finite(s.Y[i]) || !finite(s.YLo[i]) || !finite(s.YHi[i]) {
			continue
		}
		d.XYs = append(d.XYs, plotter.XY{X: s.X[i], Y: s.Y[i]})
		d.YErrors = append(d.YErrors, struct{ Low, High float64 }{max(0, s.Y[i]-s.YLo[i]), max(0, s.YHi[i]-s.Y[i])})
	}
	if len(d.XYs) == 0 {
		return nil
	}
	bars, err := plotter.NewYErrorBars(d)
	if err != nil {
		return nil
	}
	bars.LineStyle = draw.LineStyle{Color: ls.Color, Width: 1.2}
	bars.CapWidth = 8
	return bars
}

func lineStyle(s Series, i int) draw.LineStyle {
	ls := draw.LineStyle{Color: s.Colour, Width: lineWidth}
	if ls.Color == nil {
		ls.Color = Colour(i)
	}
	if s.Thin {
		ls.Width = 1
	}
	if s.Dashed {
		ls.Dashes = []vg.Length{5, 3}
	}
	return ls
}

// points pairs X and Y, drops what cannot be drawn, and thins very long series evenly.
func points(s Series, logY bool, floor float64) plotter.XYs {
	n := min(len(s.X), len(s.Y))
	step := 1
	if n > maxSeriesPt {
		step = (n + maxSeriesPt - 1) / maxSeriesPt
	}
	pts := make(plotter.XYs, 0, n/step+1)
	for i := 0; i < n; i += step {
		x, y := s.X[i], s.Y[i]
		if !finite(x) || !finite(y) {
			continue
		}
		if logY && y < floor {
			y = floor
		}
		pts = append(pts, plotter.XY{X: x, Y: y})
	}
	return pts
}

// positiveFloor is the smallest positive y, the floor of a log axis.
func positiveFloor(ss []Series) float64 {
	f := math.Inf(1)
	for _, s := range ss {
		for _, y := range s.Y {
			if y > 0 && finite(y) && y < f {
				f = y
			}
		}
	}
	if math.IsInf(f, 1) {
		return 0.1
	}
	return math.Pow(10, math.Floor(math.Log10(f)))
}

// wantLog says whether a latency chart reads better on a log axis: when the spread between
// typical and worst values is so wide that a linear axis flattens the baseline.
func wantLog(ss []Series) bool {
	var all []float64
	for _, s := range ss {
		for _, y := range s.Y {
			if y > 0 && finite(y) {
				all = append(all, y)
			}
		}
	}
	if len(all) < 2 {
		return false
	}
	sort.Float64s(all)
	med := all[len(all)/2]
	return med > 0 && all[len(all)-1]/med >= 20
}

// LatencyOverTime draws p50, p99 and max per second of one stream, faults shaded.
func LatencyOverTime(res *reports.Results, stream string) (string, error) {
	var t, p50, p99, mx []float64
	for _, b := range bucketsOf(res, stream) {
		if b.Requests == 0 {
			continue // no request finished: no latency to show, not zero latency
		}
		t = append(t, b.T)
		p50 = append(p50, b.P50Ms)
		p99 = append(p99, b.P99Ms)
		mx = append(mx, b.MaxMs)
	}
	ss := []Series{
		{Name: "max", X: t, Y: mx, Colour: color.RGBA{0x99, 0x99, 0x99, 0xff}, Thin: true, Dashed: true},
		{Name: "p99", X: t, Y: p99, Colour: Colour(1)},
		{Name: "p50", X: t, Y: p50, Colour: Colour(0)},
	}
	return Lines(LineChart{
		Refs:    sloRefs(res, stream),
		Title:   "Latency over time — " + stream,
		XLabel:  "seconds since start",
		YLabel:  "latency (ms)",
		Series:  ss,
		Windows: FaultWindows(res),
		XMin:    0,
		XMax:    runEnd(res),
		LogY:    wantLog(ss),
	})
}

// ErrorsAndThroughput draws, per second and stream, the requests that succeeded (solid) and
// those that failed (dashed, same colour). Buckets are by scheduled send time, so in an open
// model their sum is the asked rate and the split is what users got.
func ErrorsAndThroughput(res *reports.Results) (string, error) {
	var ss []Series
	for i, name := range StreamNames(res) {
		var t, req, errs []float64
		for _, b := range bucketsOf(res, name) {
			t = append(t, b.T)
			req = append(req, float64(b.Requests-b.Errors))
			errs = append(errs, float64(b.Errors))
		}
		ss = append(ss,
			Series{Name: name + " ok/s", X: t, Y: req, Colour: Colour(i)},
			Series{Name: name + " failed/s", X: t, Y: errs, Colour: Colour(i), Dashed: true})
	}
	return Lines(LineChart{
		Title:   "Throughput and errors",
		XLabel:  "seconds since start",
		YLabel:  "per second",
		Series:  ss,
		Windows: FaultWindows(res),
		XMin:    0,
		XMax:    runEnd(res),
	})
}

// bucketsOf returns one stream's buckets in time order, leaving out a last bucket that the
// run covered for less than half a second: its few requests would draw a false cliff.
func bucketsOf(res *reports.Results, stream string) []reports.TimeBucket {
	var bs []reports.TimeBucket
	for _, b := range res.Timeseries {
		if b.Stream != stream {
			continue
		}
		if res.DurationS > 0 && res.DurationS-b.T < 0.5 {
			continue
		}
		bs = append(bs, b)
	}
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].T < bs[j].T })
	return bs
}

// StreamNames lists streams in results order, then any only seen in the timeseries.
func StreamNames(res *reports.Results) []string {
	seen := map[string]bool{}
	var names []string
	for _, s := range res.Streams {
		if !seen[s.Name] {
			seen[s.Name] = true
			names = append(names, s.Name)
		}
	}
	var extra []string
	for _, b := range res.Timeseries {
		if !seen[b.Stream] {
			seen[b.Stream] = true
			extra = append(extra, b.Stream)
		}
	}
	sort.Strings(extra)
	return append(names, extra...)
}

// runEnd is the x extent of a run's time charts.
func runEnd(res *reports.Results) float64 {
	end := 0.0
	if finite(res.DurationS) {
		end = res.DurationS
	}
	for _, b := range res.Timeseries {
		if finite(b.T) {
			end = math.Max(end, b.T+1)
		}
	}
	if end <= 0 {
		end = 1
	}
	return end
}

// shade paints windows across the full height of the data area, labelled at the top.
type shade struct{ windows []Window }

func (s *shade) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	ts := style(fontTick)
	ts.Color = faultText
	for i, w := range s.windows {
		x0, x1 := trX(w.StartS), trX(w.EndS)
		x0 = max(x0, c.Min.X)
		x1 = min(x1, c.Max.X)
		if x1 <= x0 {
			continue
		}
		c.FillPolygon(faultFill, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
		y := c.Max.Y - ts.Font.Size - 2 - vg.Length(i%3)*(ts.Font.Size+2)
		// A light backing keeps the label legible where a line runs through it.
		tw := ts.Width(w.Label)
		c.FillPolygon(labelBacking, []vg.Point{{X: x0 + 1, Y: y - 2}, {X: x0 + tw + 5, Y: y - 2}, {X: x0 + tw + 5, Y: y + ts.Font.Size}, {X: x0 + 1, Y: y + ts.Font.Size}})
		c.FillText(ts, vg.Point{X: x0 + 3, Y: y}, w.Label)
	}
}

// note writes a centred message in an empty chart.
type note struct{ text string }

func (n *note) Plot(c draw.Canvas, _ *plot.Plot) {
	ts := style(fontLabel)
	ts.XAlign, ts.YAlign = -0.5, -0.5
	c.FillText(ts, c.Center(), n.text)
}

// logTicks labels decades and the 2 and 5 in between, which a latency reader expects.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 {
		lo = 0.01
	}
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)) && len(ts) < 60; e++ {
		d := math.Pow(10, e)
		marks := []float64{1, 2, 5}
		if math.Log10(hi/lo) > 3 {
			marks = []float64{1, 3} // many decades: fewer labels, or they collide
		}
		for _, m := range marks {
			v := m * d
			if v < lo || v > hi {
				continue
			}
			ts = append(ts, plot.Tick{Value: v, Label: formatMs(v)})
		}
	}
	return ts
}

// formatMs labels a tick of a millisecond axis: in milliseconds always (1000, never "1s": the
// axis says ms, and a lone unit change mid-axis reads as 1 ms).
func formatMs(v float64) string {
	if v >= 1 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprintf("%.2g", v)
}

// refLegend is the legend's name for the SLO lines: it names every threshold the axis does not
// reach, and whether it lies above or below, so a line listed in the legend but not drawn is
// never silently missing.
func refLegend(refs []Ref, lo, hi float64, logY bool) string {
	var off []string
	seen := map[string]bool{}
	for _, r := range refs {
		where := ""
		switch {
		case !finite(r.Y) || (logY && r.Y <= 0) || r.Y < lo:
			where = "below"
		case r.Y > hi:
			where = "above"
		}
		key := r.Label + where
		if where == "" || seen[key] {
			continue
		}
		seen[key] = true
		off = append(off, fmt.Sprintf("%s off-scale (%s)", strings.TrimPrefix(r.Label, "SLO "), where))
	}
	if len(off) == 0 {
		return "SLO threshold"
	}
	return "SLO threshold; " + strings.Join(off, ", ")
}

// stepTicks puts 6–12 labelled ticks on round steps (1, 2, 5, 10, 15, 30, 60 …), which reads
// better than gonum's default of three on a 40-second run.
type stepTicks struct{}

func (stepTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if !(span > 0) || !finite(span) || !finite(lo) || !finite(hi) {
		// gonum's default ticker loops forever on an infinite span; label the ends at most.
		var ts []plot.Tick
		for _, v := range []float64{lo, hi} {
			if finite(v) {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)})
			}
		}
		return ts
	}
	step := 1.0
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * math.Pow(10, math.Floor(math.Log10(span/10)))
		if span/step <= 8 {
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9 && len(ts) < 40; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 6, 64)})
	}
	return ts
}

// sloRefs turns a stream's latency SLOs into reference segments over their phases.
func sloRefs(res *reports.Results, stream string) []Ref {
	var out []Ref
	for _, s := range res.SLOs {
		if s.Stream != stream || s.Unit != reports.UnitMs {
			continue
		}
		th, err := verdict.ParseThreshold(s.Threshold)
		if err != nil || th.Unit != reports.UnitMs {
			continue
		}
		// One segment per window: a fault phase split by a quiet gap is not judged in the gap.
		for _, w := range reports.Windows(res.Phases, s.Phase) {
			out = append(out, Ref{Y: th.Value, From: w.StartS, To: w.EndS, Label: "SLO " + th.Raw, Broken: !s.Pass})
		}
	}
	return out
}

func refStyle(broken bool) draw.LineStyle {
	c := color.Color(color.RGBA{0x55, 0x55, 0x55, 0xff})
	if broken {
		c = color.RGBA{0xc6, 0x28, 0x28, 0xff}
	}
	return draw.LineStyle{Color: c, Width: 1.2, Dashes: []vg.Length{2, 3}}
}

// refs draws reference segments with their labels at the right end.
type refs struct{ refs []Ref }

func (r *refs) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	ts := style(fontTick)
	for _, ref := range r.refs {
		if !finite(ref.Y) || (p.Y.Scale == plot.LogScale{} && ref.Y <= 0) || ref.Y < p.Y.Min || ref.Y > p.Y.Max {
			continue
		}
		x0, x1 := max(trX(ref.From), c.Min.X), min(trX(ref.To), c.Max.X)
		if x1 <= x0 {
			continue
		}
		y := trY(ref.Y)
		ls := refStyle(ref.Broken)
		c.StrokeLine2(ls, x0, y, x1, y)
		ts.Color = ls.Color
		ts.XAlign = text.XRight
		c.FillText(ts, vg.Point{X: x1 - 3, Y: y + 2}, ref.Label)
	}
}
