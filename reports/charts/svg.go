// Package charts draws the report's charts with gonum/plot and returns them as inline SVG.
package charts

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"regexp"
	"strings"

	xfnt "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Sizes fit a laptop screen: the SVG scales to its container, so these set the aspect and
// the font size relative to the chart.
const (
	Width       = 10 * vg.Inch
	Height      = 3.6 * vg.Inch
	headerH     = 36 // points reserved above the plot for the title and the legend
	fontTick    = 10
	fontLabel   = 11
	fontTitle   = 13
	fontLegend  = 10.5
	lineWidth   = 1.6
	maxSeriesPt = 20000 // more points than this per line are thinned (pixels cannot show them)
)

// sans is Liberation Sans, metric-compatible with Arial/Helvetica, so text measured here fits
// in a browser that substitutes them.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// Palette is colour-blind safe (Okabe–Ito); series take colours in order.
var Palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	{0x00, 0x9E, 0x73, 0xff}, // green
	{0xCC, 0x79, 0xA7, 0xff}, // pink
	{0xE6, 0x9F, 0x00, 0xff}, // orange
	{0x56, 0xB4, 0xE9, 0xff}, // sky
	{0x44, 0x44, 0x44, 0xff}, // dark grey
	{0xB8, 0x9B, 0x00, 0xff}, // dark yellow
}

// Colour returns the i-th palette colour, cycling.
func Colour(i int) color.RGBA {
	if i < 0 {
		i = -i
	}
	return Palette[i%len(Palette)]
}

var (
	faultFill  = color.NRGBA{0xD5, 0x5E, 0x00, 0x2a} // non-premultiplied: vgsvg writes colour and opacity apart
	faultText  = color.RGBA{0x9a, 0x3a, 0x00, 0xff}
	gridColour = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	// labelBacking sits behind fault labels: white, mostly opaque (non-premultiplied).
	labelBacking = color.NRGBA{0xff, 0xff, 0xff, 0xc8}
	textColour   = color.RGBA{0x22, 0x22, 0x22, 0xff}
)

func style(size vg.Length) text.Style {
	return text.Style{
		Color:   textColour,
		Font:    font.From(sans, size),
		Handler: plot.DefaultTextHandler,
	}
}

// newPlot returns a plot with the house fonts, light grid and no title (the header strip
// carries it, next to the legend).
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	// Keep gonum's alignments (they place labels off the ticks); change only font and colour.
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font, a.Label.TextStyle.Color = font.From(sans, fontLabel), textColour
		a.Tick.Label.Font, a.Tick.Label.Color = font.From(sans, fontTick), textColour
		a.Padding = 2
	}
	p.X.Label.Padding = 2
	p.Y.Label.Padding = 4
	p.Legend.TextStyle = style(fontLegend)
	return p
}

// legendItem is one entry of the header legend: a line sample or a filled swatch.
type legendItem struct {
	Name string
	Line *draw.LineStyle
	Fill color.Color
}

// header draws the title and a wrapping legend in the strip above the plot and returns
// the strip's height; with draw false it only measures.
func header(c draw.Canvas, title string, items []legendItem, drawIt bool) vg.Length {
	ts := style(fontTitle)
	ts.Font.Weight = xfnt.WeightBold
	ls := style(fontLegend)
	top := c.Max.Y - 4
	y := top - ts.Font.Size
	if drawIt {
		c.FillText(ts, vg.Point{X: c.Min.X + 4, Y: y}, title)
	}
	// The legend starts on the line below the title, never beside it: the browser draws the
	// title in its own font, wider than the width measured here, and a legend placed where the
	// measured title ended overwrote its end ("distribution — redirect" covered "default").
	left := c.Min.X + 8
	if len(items) > 0 {
		y -= ls.Font.Size + 7
	}
	x := left
	for _, it := range items {
		w := 22 + ls.Width(it.Name) + 14
		if x+w > c.Max.X && x > left {
			x = left
			y -= ls.Font.Size + 5
		}
		if drawIt {
			mid := y + ls.Font.Size*0.33
			switch {
			case it.Line != nil:
				c.StrokeLine2(*it.Line, x, mid, x+18, mid)
			case it.Fill != nil:
				c.FillPolygon(it.Fill, []vg.Point{{X: x, Y: mid - 5}, {X: x + 18, Y: mid - 5}, {X: x + 18, Y: mid + 5}, {X: x, Y: mid + 5}})
			}
			c.FillText(ls, vg.Point{X: x + 22, Y: y}, it.Name)
		}
		x += w
	}
	return max(headerH, top-y+ls.Font.Size)
}

// render draws the plot under a header strip and returns inline SVG. The canvas grows by
// whatever the legend needs beyond one line, so the plot keeps its height.
func render(p *plot.Plot, title string, items []legendItem, w, h vg.Length) (string, error) {
	// gonum centres the y label on the linear midpoint of the range, which on a log axis lands
	// near the top and pads the plot down; reserve its room with a blank and draw it centred.
	yLabel := p.Y.Label.Text
	if yLabel != "" {
		p.Y.Label.Text = " "
	}
	probe := draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: w, Y: h}}}
	hh := header(probe, title, items, false)
	h += hh - headerH
	return renderWith(w, h, title, func(c draw.Canvas) {
		header(c, title, items, true)
		pc := draw.Crop(c, 0, -24, 0, -hh) // right margin: gonum lets the last tick label overhang
		p.Draw(pc)
		if yLabel != "" {
			ls := style(fontLabel)
			ls.Rotation = math.Pi / 2
			ls.XAlign, ls.YAlign = text.XCenter, text.YTop
			c.FillText(ls, vg.Point{X: pc.Min.X + 2, Y: (pc.Min.Y + pc.Max.Y) / 2}, yLabel)
		}
	})
}

// renderWith runs draw on a fresh SVG canvas, recovering gonum's panics on degenerate input.
func renderWith(w, h vg.Length, title string, drawFn func(draw.Canvas)) (svg string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("charts: drawing %q: %v", title, r)
		}
	}()
	cv := vgsvg.New(w, h)
	dc := draw.New(cv)
	dc.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: w, Y: 0}, {X: w, Y: h}, {X: 0, Y: h}})
	drawFn(dc)
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("charts: writing svg: %w", err)
	}
	return inline(buf.String(), title), nil
}

var (
	svgOpen = regexp.MustCompile(`(?s)^.*?<svg width="[^"]*" height="[^"]*"`)
	fontLib = regexp.MustCompile(`font-family:Liberation Sans;`)
)

// inline turns a standalone SVG document into an element to embed in HTML: no XML prolog,
// scales with its container, accessible name, and a font stack that works without
// Liberation installed.
func inline(doc, title string) string {
	doc = svgOpen.ReplaceAllLiteralString(doc, fmt.Sprintf(`<svg class="chart" role="img" aria-label="%s" width="100%%" preserveAspectRatio="xMidYMid meet"`, attrEscape(title)))
	doc = fontLib.ReplaceAllLiteralString(doc, `font-family:'Liberation Sans',Arial,Helvetica,sans-serif;`)
	return strings.TrimSpace(doc)
}

func attrEscape(s string) string {
	r := strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;", `"`, "&quot;", `'`, "&#39;")
	return r.Replace(s)
}

// finite reports whether v can be drawn: a number, and small enough that axis arithmetic on
// it (head room, spans, log ticks) cannot overflow. No latency, count or time in a run is near
// 1e15, so larger values are garbage in results.json.
func finite(v float64) bool { return !math.IsNaN(v) && math.Abs(v) < 1e15 }
