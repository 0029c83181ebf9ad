package verdict

import (
	"github.com/faultline/faultline/internal/percentile"
	"github.com/faultline/faultline/reports"
)

// SLO is one SLO of a scenario: thresholds on one load stream in some phases.
type SLO struct {
	Load       string      `json:"load" yaml:"load"`
	Phases     []string    `json:"phases" yaml:"phases"`
	Thresholds []Threshold `json:"thresholds" yaml:"thresholds"`
}

// Raw lists the thresholds as written.
func (s SLO) Raw() []string {
	out := make([]string, len(s.Thresholds))
	for i, t := range s.Thresholds {
		out[i] = t.Raw
	}
	return out
}

// EvaluateSLOs judges every threshold of every SLO in each of its phases. A phase with no
// requests (or one the run does not have) fails with NoData.
func EvaluateSLOs(samples []reports.Sample, slos []SLO, windows []reports.PhaseWindow) []reports.SLOResult {
	var out []reports.SLOResult
	for _, slo := range slos {
		for _, ph := range slo.Phases {
			length, known := reports.Length(windows, ph)
			sel := reports.Select(samples, slo.Load, ph)
			for _, t := range slo.Thresholds {
				r := reports.SLOResult{Stream: slo.Load, Phase: ph, Threshold: t.Raw, Unit: t.Unit}
				v, ok := t.Measure(sel, length)
				if !known || !ok {
					r.NoData = true
				} else {
					r.Value, r.Pass = v, t.Holds(v)
				}
				out = append(out, r)
			}
		}
	}
	return out
}

// Measure computes the threshold's metric over samples observed in a window of windowS
// seconds. ok is false when there is nothing to measure (no samples): the caller must then
// fail, never pass, because nothing was proven.
func (t Threshold) Measure(samples []reports.Sample, windowS float64) (v float64, ok bool) {
	if len(samples) == 0 {
		return 0, false
	}
	switch t.Metric {
	case "errors":
		return float64(reports.CountFailed(samples)) / float64(len(samples)), true
	case "rate":
		if windowS <= 0 {
			return 0, false
		}
		return float64(len(samples)) / windowS, true
	case "goodput":
		if windowS <= 0 {
			return 0, false
		}
		return float64(countAnswered(samples)) / windowS, true
	}
	if t.OK {
		samples = succeeded(samples)
		if len(samples) == 0 {
			return 0, false
		}
	}
	lat := reports.Latencies(samples)
	switch t.Metric {
	case "p":
		return percentile.Of(lat, t.Percentile), true
	case "med":
		return percentile.Of(lat, 50), true
	case "min":
		return lat[0], true
	case "max":
		return lat[len(lat)-1], true
	case "avg":
		return reports.Mean(lat), true
	}
	return 0, false
}

func succeeded(samples []reports.Sample) []reports.Sample {
	out := make([]reports.Sample, 0, len(samples))
	for _, s := range samples {
		if !s.Failed() {
			out = append(out, s)
		}
	}
	return out
}

// countAnswered counts the successful answers: a pending request has not succeeded yet.
func countAnswered(samples []reports.Sample) int {
	n := 0
	for _, s := range samples {
		if !s.Pending && !s.Failed() {
			n++
		}
	}
	return n
}
