package verdict

import "math"

// MinSamples is how many requests a pass of the threshold needs before it proves anything:
// a pass on fewer says nothing about what the threshold bounds, and a caller that cuts a
// window short (the explorer) must judge such a pass as no data. A failure needs no minimum:
// it is evidence on any count.
//
//   - p(q) < X: at least 100/(100-q) requests, so the percentile is not simply the slowest
//     of a handful (p(99): 100, p(95): 20, med: 2);
//   - errors < x: at least 1/x requests, so a single failed request could fail it
//     (errors<1%: 100); errors <= x: one more than 1/x;
//   - anything else (avg, min, max, rate, goodput, a lower bound): one request.
func (t Threshold) MinSamples() int {
	if t.Op != "<" && t.Op != "<=" {
		return 1
	}
	switch t.Metric {
	case "p", "med":
		q := t.Percentile
		if t.Metric == "med" {
			q = 50
		}
		if q >= 100 {
			return 1
		}
		return int(math.Ceil(100/(100-q) - 1e-9))
	case "errors":
		if t.Value <= 0 {
			return 1
		}
		n := 1 / t.Value
		if t.Op == "<=" {
			return int(math.Floor(n+1e-9)) + 1
		}
		return int(math.Ceil(n - 1e-9))
	}
	return 1
}
