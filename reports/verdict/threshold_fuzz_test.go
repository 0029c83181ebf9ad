package verdict

import (
	"math"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

// FuzzParseThreshold: no panics, and an accepted threshold is well-formed, can both hold and
// fail, and re-parses from its Raw text to the same value. testdata/fuzz holds the refusals
// (tautologies, bare ratios) as seeds.
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
		if th.Unit == reports.UnitRatio && (th.Value > 1 || !strings.HasSuffix(th.Raw, "%")) {
			t.Fatalf("%q: ratio %g", s, th.Value)
		}
		if err := decisive(th.Op, th.Value, th.Unit); err != nil {
			t.Fatalf("%q: accepted but %v", s, err)
		}
		again, err := ParseThreshold(th.Raw)
		if err != nil || again != th {
			t.Fatalf("%q: raw %q re-parses to %+v, %v", s, th.Raw, again, err)
		}
	})
}

// FuzzParseBound: no panics, and an accepted bound is a share in [0, 1) that some observed
// share meets and some breaks, written as a percentage, re-parsing to itself.
func FuzzParseBound(f *testing.F) {
	for _, s := range []string{"0%", "<=5%", "<1%", " <= 0.5% ", "99.99%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBound(s)
		if err != nil {
			return
		}
		if math.IsNaN(b.Value) || b.Value < 0 || b.Value >= 1 || !strings.HasSuffix(b.Raw, "%") {
			t.Fatalf("%q: %+v", s, b)
		}
		if !b.Holds(0) && b.Op == "<=" || b.Holds(1) {
			t.Fatalf("%q: %+v holds for every share or none", s, b)
		}
		again, err := ParseBound(b.Raw)
		if err != nil || again != b {
			t.Fatalf("%q: raw %q re-parses to %+v, %v", s, b.Raw, again, err)
		}
	})
}
