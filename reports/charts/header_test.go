package charts

import (
	"regexp"
	"strconv"
	"testing"
)

var textRe = regexp.MustCompile(`<text [^>]*y="([-0-9.]+)"[^>]*>([^<]*)</text>`)

// TestLegendBelowTitle: the legend is on its own line under the title, never beside it; the
// browser's font is wider than the width measured when drawing, so a legend placed where the
// title ended covered its end ("distribution — redirect" hid the "d" of "default").
func TestLegendBelowTitle(t *testing.T) {
	res := fixture(t)
	svg, err := LatencyOverTime(res, "create")
	if err != nil {
		t.Fatal(err)
	}
	var titleY, legendY float64 = -1, -1
	for _, m := range textRe.FindAllStringSubmatch(svg, -1) {
		y, _ := strconv.ParseFloat(m[1], 64)
		y = -y // the SVG is drawn flipped (scale(1, -1)): a larger -y is higher on the page
		switch m[2] {
		case "Latency over time — create":
			titleY = y
		case "p99":
			if legendY < 0 {
				legendY = y
			}
		}
	}
	if titleY < 0 || legendY < 0 {
		t.Fatalf("title (y %g) or legend (y %g) text not found in the SVG", titleY, legendY)
	}
	if legendY >= titleY-8 {
		t.Errorf("legend at y=%g, title at y=%g: want the legend on a line below the title", legendY, titleY)
	}
}
