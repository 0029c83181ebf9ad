package compare

import (
	"strconv"

	"github.com/faultline/faultline/reports/html"
)

// Judge applies the package's winner rule to a row built elsewhere (the tournament's rows),
// so every ranking of the lab calls "best" and "within noise" the same way.
func Judge(r *MetricRow) {
	r.Winner, r.Call, r.Note = -1, CallNoCompare, ""
	judge(r)
}

// Overlays are the per-stream p99-over-time charts of the comparison, one line per run.
func (c *Comparison) Overlays(prefix string) []html.Chart {
	streams, _ := c.streamsAndPhases()
	var out []html.Chart
	for i, s := range streams {
		svg, err := c.overlay(s)
		out = append(out, html.NewChart(prefix+"-"+strconv.Itoa(i), "p99 over time: "+s, "p99 per second, one line per run; shaded: the first run's faults.", svg, err))
	}
	return out
}
