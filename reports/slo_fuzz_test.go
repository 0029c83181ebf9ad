package reports

import (
	"math"
	"testing"
)

// FuzzParseThreshold: no panics, and an accepted threshold is well-formed and re-parses from
// its Raw text to the same value.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"p(99)<50ms", "p(95)<=1s", "avg<20", "errors<0.1%", "rate>=95/s", "min>0ms", "p(99.9)<1.5s", "errors>50%", "p(1e2)<1s", "max<1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			return
		}
		if math.IsNaN(th.Value) || math.IsInf(th.Value, 0) || th.Value < 0 {
			t.Fatalf("%q: value %g", s, th.Value)
		}
		switch th.Op {
		case "<", "<=", ">", ">=":
		default:
			t.Fatalf("%q: op %q", s, th.Op)
		}
		if th.Unit == "" || (th.Metric == "p") != (th.Percentile > 0) || th.Percentile > 100 {
			t.Fatalf("%q: %+v", s, th)
		}
		if th.Unit == UnitRatio && th.Value > 1 {
			t.Fatalf("%q: ratio %g", s, th.Value)
		}
		again, err := ParseThreshold(th.Raw)
		if err != nil || again != th {
			t.Fatalf("%q: raw %q re-parses to %+v, %v", s, th.Raw, again, err)
		}
	})
}
