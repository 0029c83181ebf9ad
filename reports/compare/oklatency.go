package compare

import (
	"sort"
	"time"

	"github.com/faultline/faultline/internal/percentile"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/rundir"
)

// Latency rows rank the successful requests only: a request that failed fast (a refused
// connection, an open breaker) would otherwise make the profile that failed most look fastest
// (seen: "create p50 (fault): timeout=1s best with 0.71 ms" for a value whose creations failed
// 97.5 % of the time). They sit next to the error rate and the throughput of successes.
const (
	MetricP50OK = "p50 ok"
	MetricP99OK = "p99 ok"
)

// okRow is the row of one percentile of successful requests: from the run's recorded figure
// (ok_p50_ms, ok_p99_ms), else from its samples; a run where nothing succeeded, or that
// recorded neither, has no value (never best).
func (c *Comparison) okRow(stream, phase, metric string, q float64, recorded func(reports.PhaseFigure) *float64) MetricRow {
	r := MetricRow{Stream: stream, Phase: phase, Metric: metric, Unit: UnitMs, Better: -1, Winner: -1}
	for _, g := range c.Groups {
		var vs []float64
		for i, run := range g.Runs {
			var samples []rundir.Sample
			if i < len(g.Samples) {
				samples = g.Samples[i]
			}
			vs = append(vs, okValue(run, samples, stream, phase, q, recorded))
		}
		r.Values = append(r.Values, Of(vs))
	}
	judge(&r)
	return r
}

func okValue(run *reports.Results, samples []rundir.Sample, stream, phase string, q float64, recorded func(reports.PhaseFigure) *float64) float64 {
	fig, ok := figure(run, stream, phase)
	if !ok || fig.Requests == 0 {
		return nan
	}
	if v := recorded(fig); v != nil {
		return *v
	}
	var lat []float64
	for _, s := range samples {
		if s.Stream == stream && (phase == reports.PhaseAll || s.Phase == phase) && okSample(s) {
			lat = append(lat, s.LatencyMs)
		}
	}
	if len(lat) == 0 {
		return nan
	}
	sort.Float64s(lat)
	return percentile.Of(lat, q)
}

// okSample says whether a recorded request succeeded, by the rule of reports.Sample.Failed.
func okSample(s rundir.Sample) bool {
	return !(reports.Sample{Code: s.Code, Err: s.Error, Latency: time.Duration(s.LatencyMs * float64(time.Millisecond))}).Failed()
}
