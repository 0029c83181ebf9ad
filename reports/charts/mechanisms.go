package charts

import (
	"fmt"
	"image/color"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/faultline/faultline/reports"
)

// Breaker state colours: the traffic-light reading everyone already has.
var stateFill = map[string]color.RGBA{
	"closed":    {0x9c, 0xd6, 0xb4, 0xff},
	"half-open": {0xf2, 0xc1, 0x4e, 0xff},
	"open":      {0xd9, 0x48, 0x3b, 0xff},
}

// band is one row of the mechanisms timeline.
type band struct {
	label string
	spans []stateSpan
}

type stateSpan struct {
	from, to float64
	state    string
	// unconfirmed marks the span after the last recorded transition when the breaker was not
	// closed then: spans only show a change when a call passes, so the real end is unknown.
	unconfirmed bool
}

// MechanismsTimeline draws each edge's circuit-breaker state over time as a band, with the
// edge's retry, bulkhead, fallback, timeout and rate-limit counts beside its name.
func MechanismsTimeline(res *reports.Results) (string, error) {
	bands := mechanismBands(res)
	end := runEnd(res)
	p := newPlot("seconds since start", "")
	p.X.Min, p.X.Max = 0, end
	p.Y.Min, p.Y.Max = -0.5, float64(max(len(bands), 1))-0.3
	p.X.Tick.Marker = stepTicks{}
	p.HideY()
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridColour, nil
	p.Add(grid, &shade{windows: FaultWindows(res)}, &bandPlotter{bands: bands})
	if len(bands) == 0 {
		p.Add(&note{text: "no resilience mechanism acted in this run"})
	}
	items := []legendItem{
		{Name: "closed", Fill: stateFill["closed"]},
		{Name: "half-open", Fill: stateFill["half-open"]},
		{Name: "open", Fill: stateFill["open"]},
	}
	for _, b := range bands {
		if n := len(b.spans); n > 0 && b.spans[n-1].unconfirmed {
			items = append(items, legendItem{Name: "last state seen, no later transition recorded", Fill: faded(stateFill["open"])})
			break
		}
	}
	items = append(items, legendItem{Name: "fault active", Fill: faultFill})
	h := vg.Length(headerH+56) + vg.Length(max(len(bands), 1))*44
	return render(p, "Resilience mechanisms", items, Width, h)
}

// mechanismBands builds the rows: every edge with a breaker, then edges and routes that only
// retried, shed or fell back (shown without a state band).
func mechanismBands(res *reports.Results) []band {
	m := res.Mechanisms
	if m == nil {
		return nil
	}
	end := runEnd(res)
	trans := map[string][]reports.BreakerTransition{}
	names := map[string]bool{}
	for _, t := range m.BreakerTransitions {
		trans[t.Edge] = append(trans[t.Edge], t)
		names[t.Edge] = true
	}
	for _, b := range m.Breakers {
		names[b.Edge] = true
	}
	for _, mp := range []map[string]int{m.Retries, m.BulkheadRejections, m.Fallbacks, m.Timeouts} {
		for k, v := range mp {
			if v > 0 {
				names[k] = true
			}
		}
	}
	for k, v := range m.RateLimited {
		if v > 0 {
			names["route "+k] = true
		}
	}
	var sorted []string
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	hasBreaker := map[string]bool{}
	for _, b := range m.Breakers {
		hasBreaker[b.Edge] = true
	}
	var bands []band
	for _, name := range sorted {
		ts := trans[name]
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].AtS < ts[j].AtS })
		var spans []stateSpan
		if len(ts) > 0 || hasBreaker[name] {
			state, at := "closed", 0.0
			if len(ts) > 0 && ts[0].From != "" {
				state = ts[0].From
			}
			for _, t := range ts {
				spans = append(spans, stateSpan{from: at, to: t.AtS, state: state})
				state, at = t.To, t.AtS
			}
			spans = append(spans, stateSpan{from: at, to: end, state: state, unconfirmed: state != "closed" && len(ts) > 0})
		}
		bands = append(bands, band{label: name + "  —  " + counts(m, name), spans: spans})
	}
	return bands
}

// counts summarises what the mechanisms did on one edge or route.
func counts(m *reports.Mechanisms, name string) string {
	var parts []string
	if r, ok := strings.CutPrefix(name, "route "); ok {
		return fmt.Sprintf("rate limited %d", m.RateLimited[r])
	}
	for _, c := range []struct {
		label string
		mp    map[string]int
	}{{"retries", m.Retries}, {"bulkhead", m.BulkheadRejections}, {"fallbacks", m.Fallbacks}, {"timeouts", m.Timeouts}} {
		if v := c.mp[name]; v > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.label, v))
		}
	}
	n := 0
	for _, t := range m.BreakerTransitions {
		if t.Edge == name && t.To == "open" {
			n++
		}
	}
	if n > 0 {
		parts = append(parts, fmt.Sprintf("opened %d×", n))
	}
	if len(parts) == 0 {
		return "no activity"
	}
	return strings.Join(parts, " · ")
}

// bandPlotter draws the state spans of each row.
type bandPlotter struct{ bands []band }

func (bp *bandPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	line := draw.LineStyle{Color: color.RGBA{0xbb, 0xbb, 0xbb, 0xff}, Width: 0.5, Dashes: []vg.Length{2, 2}}
	ts := style(fontLegend)
	for i, b := range bp.bands {
		// Rows run top to bottom in the order listed; the name sits above its band.
		y := float64(len(bp.bands) - 1 - i)
		y0, y1 := trY(y-0.4), trY(y+0.02)
		c.FillText(ts, vg.Point{X: c.Min.X + 4, Y: trY(y + 0.1)}, b.label)
		if len(b.spans) == 0 {
			c.StrokeLine2(line, c.Min.X, trY(y), c.Max.X, trY(y))
			continue
		}
		for _, s := range b.spans {
			var fill color.Color = color.RGBA{0xcc, 0xcc, 0xcc, 0xff}
			if f, ok := stateFill[s.state]; ok {
				fill = f
			}
			if s.unconfirmed {
				fill = faded(fill)
			}
			x0, x1 := max(trX(s.from), c.Min.X), min(trX(s.to), c.Max.X)
			if x1 <= x0 {
				continue
			}
			c.FillPolygon(fill, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		}
	}
}

// faded is c at 40 % opacity, for what the run did not confirm.
func faded(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0x66}
}
