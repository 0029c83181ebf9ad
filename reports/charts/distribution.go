package charts

import (
	"math"
	"sort"

	"gonum.org/v1/plot"

	"github.com/faultline/faultline/internal/percentile"
)

// maxNines is the right end of the percentile axis: 99.99 %.
const maxNines = 4

// Distribution is one line of a percentile plot: raw latencies, or, when the raw results are
// missing, the summary percentiles the run recorded.
type Distribution struct {
	Name        string
	LatenciesMs []float64    // raw, any order
	Percentiles []Percentile // used when LatenciesMs is empty
}

// Percentile is one point of a latency distribution.
type Percentile struct {
	Q  float64 // 0..100
	Ms float64
}

// Nines maps a percentile (0..100) to the x axis of an HDR-style plot: 90 → 1, 99 → 2,
// 99.9 → 3. It is capped at 99.99 %.
func Nines(q float64) float64 {
	if q >= 100 {
		return maxNines
	}
	if q <= 0 {
		return 0
	}
	return math.Min(maxNines, -math.Log10(1-q/100))
}

// LatencyDistribution draws latency against percentile on a "nines" axis, one line per
// distribution, so the tail is as wide as the body.
func LatencyDistribution(title string, ds []Distribution) (string, error) {
	var ss []Series
	right := 2.0 // at least to 99 %
	for _, d := range ds {
		xs, ys := curve(d)
		if len(xs) > 0 {
			right = math.Max(right, math.Min(maxNines, math.Ceil(xs[len(xs)-1]-1e-9)))
		}
		ss = append(ss, Series{Name: d.Name, X: xs, Y: ys, Points: len(d.LatenciesMs) == 0 && len(xs) > 0})
	}
	return Lines(LineChart{
		Title:  title,
		XLabel: "percentile",
		YLabel: "latency (ms)",
		Series: ss,
		XMin:   0,
		XMax:   right,
		LogY:   wantLog(ss),
		XTicks: ninesTicks{},
	})
}

// curve samples the exact empirical quantile function at even steps of the nines axis, up to
// the last percentile the sample count can support, and ends at the maximum.
func curve(d Distribution) (xs, ys []float64) {
	if len(d.LatenciesMs) == 0 {
		ps := append([]Percentile(nil), d.Percentiles...)
		sort.Slice(ps, func(i, j int) bool { return ps[i].Q < ps[j].Q })
		for _, p := range ps {
			if finite(p.Ms) && finite(p.Q) {
				xs = append(xs, Nines(p.Q))
				ys = append(ys, p.Ms)
			}
		}
		return xs, ys
	}
	v := make([]float64, 0, len(d.LatenciesMs))
	for _, x := range d.LatenciesMs {
		if finite(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return nil, nil
	}
	sort.Float64s(v)
	n := float64(len(v))
	last := math.Min(maxNines, math.Log10(n)) // 1-1/n: beyond it the quantile is just the max
	const steps = 240
	for i := 0; i <= steps; i++ {
		x := last * float64(i) / steps
		q := 1 - math.Pow(10, -x)
		xs = append(xs, x)
		ys = append(ys, percentile.Quantile(v, q))
	}
	xs = append(xs, last)
	ys = append(ys, v[len(v)-1])
	return xs, ys
}

// ninesTicks labels the percentile axis.
type ninesTicks struct{}

func (ninesTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for _, t := range []struct {
		q     float64
		label string
	}{{0, "0%"}, {50, "50%"}, {90, "90%"}, {99, "99%"}, {99.9, "99.9%"}, {99.99, "99.99%"}} {
		x := Nines(t.q)
		if x >= lo-1e-9 && x <= hi+1e-9 {
			ts = append(ts, plot.Tick{Value: x, Label: t.label})
		}
	}
	return ts
}
