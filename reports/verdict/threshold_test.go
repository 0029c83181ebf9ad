package verdict

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

func TestParseThreshold(t *testing.T) {
	cases := []struct {
		in     string
		metric string
		pct    float64
		op     string
		value  float64
		unit   string
	}{
		{"p(99)<50ms", "p", 99, "<", 50, reports.UnitMs},
		{"p(95)<=1s", "p", 95, "<=", 1000, reports.UnitMs},
		{"p(99.9) < 1.5s", "p", 99.9, "<", 1500, reports.UnitMs},
		{"p(90)<200", "p", 90, "<", 200, reports.UnitMs}, // k6: a bare number is milliseconds
		{"avg<20ms", "avg", 0, "<", 20, reports.UnitMs},
		{"med<10ms", "med", 0, "<", 10, reports.UnitMs},
		{"max<2s", "max", 0, "<", 2000, reports.UnitMs},
		{"min>0ms", "min", 0, ">", 0, reports.UnitMs},
		{"errors<0.1%", "errors", 0, "<", 0.001, reports.UnitRatio},
		{"errors<=5%", "errors", 0, "<=", 0.05, reports.UnitRatio},
		{"errors<100%", "errors", 0, "<", 1, reports.UnitRatio}, // fails when every request fails
		{"errors>=100%", "errors", 0, ">=", 1, reports.UnitRatio},
		{"p(99)>0", "p", 99, ">", 0, reports.UnitMs},
		{"errors>50%", "errors", 0, ">", 0.5, reports.UnitRatio},
		{"rate>=95/s", "rate", 0, ">=", 95, reports.UnitPerS},
		{"rate>10", "rate", 0, ">", 10, reports.UnitPerS},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			th, err := ParseThreshold(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if th.Metric != c.metric || th.Percentile != c.pct || th.Op != c.op || math.Abs(th.Value-c.value) > 1e-9 || th.Unit != c.unit {
				t.Errorf("got %+v", th)
			}
		})
	}
	for _, bad := range []string{"", "p99<50ms", "p(0)<1s", "p(101)<1s", "p(99)<", "p(99)=50ms", "p(99)==50ms", "avg<fast",
		"errors<150%", "errors<-1%", "errors<2", "errors<1", "errors<0.01", "errors<1e1%", "rate>=95/m", "errors_ok<1%", "goodput_ok>1", "rate_ok>1", "p(99)ok<1s", "goodput>=-1/s", "latency<1s", "p(99)<50ms extra", "p(99)<-5ms", "avg<NaN", "rate>Inf"} {
		if th, err := ParseThreshold(bad); err == nil || !errors.Is(err, ErrThreshold) {
			t.Errorf("%q: accepted as %+v (err %v)", bad, th, err)
		}
	}
}

// TestParseThresholdRefusesIndecisive: a threshold true for every value of its metric can
// never fail (an abort condition built on it always fires); one true for none can never pass.
func TestParseThresholdRefusesIndecisive(t *testing.T) {
	cases := []struct{ in, want string }{
		{"errors<=100%", "can never fail"},
		{"errors>=0%", "can never fail"},
		{"errors<0%", "can never pass"},
		{"errors>100%", "between 0% and 100%"}, // out of range before it is a tautology
		{"p(99)>=0", "can never fail"},
		{"p(99)>=0ms", "can never fail"},
		{"avg_ok>=0s", "can never fail"},
		{"max<0ms", "can never pass"},
		{"min<0", "can never pass"},
		{"rate>=0", "can never fail"},
		{"rate>=0/s", "can never fail"},
		{"goodput>=0/s", "can never fail"},
		{"goodput<0/s", "can never pass"},
		{"errors<1", "bare number"},
		{"errors<0.01", "write the %"},
		{"errors<0.01", "such as 0.1%"},
	}
	for _, c := range cases {
		th, err := ParseThreshold(c.in)
		if err == nil || !errors.Is(err, ErrThreshold) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %+v, %v; want an error containing %q", c.in, th, err, c.want)
		}
	}
}

// TestPercentExact: a percentage is the share a run can measure exactly, so a strict bound
// fails at equality (1.1/100 in floating point is above 11/1000 and would let errors<1.1%
// pass with 11 errors in 1000).
func TestPercentExact(t *testing.T) {
	for _, c := range []struct {
		th     string
		errs   int
		of     int
		passes bool
	}{
		{"errors<1.1%", 11, 1000, false},
		{"errors<=0.7%", 7, 1000, true},
		{"errors<33.3%", 333, 1000, false},
		{"errors<0.1%", 1, 1000, false},
	} {
		th, err := ParseThreshold(c.th)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Holds(float64(c.errs) / float64(c.of)); got != c.passes {
			t.Errorf("%s at %d/%d: holds = %v, want %v", c.th, c.errs, c.of, got, c.passes)
		}
	}
	for _, v := range []float64{0, 1, 0.05, 0.001, 0.011, 0.333, 0.5, 1.0 / 3, 0.123456789, 1e-9} {
		s := FormatPercent(v)
		back, err := ParsePercent(s)
		if err != nil || back != v {
			t.Errorf("FormatPercent(%g) = %q, parses back to %g (%v)", v, s, back, err)
		}
	}
	if got := FormatPercent(0.05); got != "5%" {
		t.Errorf("FormatPercent(0.05) = %q, want 5%%", got)
	}
}

// TestParseBound: user-impact bounds use the errors thresholds' percentage grammar; a bare
// ratio is refused when the file is validated, not after the run.
func TestParseBound(t *testing.T) {
	for _, c := range []struct {
		in   string
		v    float64
		want bool
	}{
		{"0%", 0, true},
		{"0%", 0.0001, false},
		{"<=5%", 0.05, true},
		{"<5%", 0.05, false},
		{"5%", 0.049, true},
		{" <= 0.5% ", 0.005, true},
		{"<1.1%", 0.011, false},
	} {
		b, err := ParseBound(c.in)
		if err != nil {
			t.Errorf("ParseBound(%q): %v", c.in, err)
			continue
		}
		if b.Holds(c.v) != c.want {
			t.Errorf("%q holds %v = %v, want %v", c.in, c.v, !c.want, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"0.01", "bare number"},
		{"5", "bare number"},
		{"-1%", "between 0% and 100%"},
		{"abc%", "between 0% and 100%"},
		{"<=100%", "can never fail"},
		{"100%", "can never fail"},
		{"<0%", "can never pass"},
		{">5%", "between 0% and 100%"},
		{"", "between 0% and 100%"},
	} {
		if b, err := ParseBound(c.in); err == nil || !errors.Is(err, ErrBound) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseBound(%q) = %+v, %v; want an error containing %q", c.in, b, err, c.want)
		}
	}
}

func samples(stream, phase string, latMs []float64, codes []int) []reports.Sample {
	out := make([]reports.Sample, len(latMs))
	for i, l := range latMs {
		out[i] = reports.Sample{Stream: stream, Phase: phase, At: time.Duration(i) * 100 * time.Millisecond,
			Latency: time.Duration(l * float64(time.Millisecond)), Code: codes[i%len(codes)]}
	}
	return out
}

func TestMeasureAndHolds(t *testing.T) {
	s := samples("r", "baseline", []float64{10, 20, 30, 40, 1000}, []int{302, 200, 200, 404, 0})
	s[4].Err = "timeout"
	cases := []struct {
		th   string
		want float64
		pass bool
	}{
		{"p(99)<50ms", 1000, false}, // the timed-out request counts
		{"p(50)<=30ms", 30, true},
		{"med<30ms", 30, false}, // strict comparison at equality
		{"avg<300ms", 220, true},
		{"max<1s", 1000, false},
		{"min>5ms", 10, true},
		{"errors<10%", 0.4, false},   // 404 and a transport error; 302 is a success
		{"rate>=1/s", 2.5, true},     // 5 requests in a 2 s window
		{"goodput>=2/s", 1.5, false}, // 3 of them succeeded
		{"p(99)_ok<50ms", 30, true},  // successful requests only: 10, 20, 30
		{"max_ok<25ms", 30, false},
		{"avg_ok<=20ms", 20, true},
	}
	for _, c := range cases {
		th, err := ParseThreshold(c.th)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := th.Measure(s, 2)
		if !ok || math.Abs(v-c.want) > 1e-9 || th.Holds(v) != c.pass {
			t.Errorf("%s: got %g ok=%v holds=%v, want %g holds=%v", c.th, v, ok, th.Holds(v), c.want, c.pass)
		}
	}
	th, _ := ParseThreshold("errors<1%")
	if _, ok := th.Measure(nil, 2); ok {
		t.Error("no samples must give no data")
	}
	// Everything failed: a latency of admitted requests proves nothing, so it must not pass.
	okTh, _ := ParseThreshold("p(95)_ok<1s")
	if _, ok := okTh.Measure(samples("r", "fault", []float64{1, 2}, []int{503, 503}), 2); ok {
		t.Error("_ok over no successful request must give no data")
	}
	if (Threshold{Op: "?"}).Holds(0) {
		t.Error("an unknown operator passed")
	}
}

// A request still in flight (the live window) counts in rate and latency at its age, fails
// only once its age is past its bound (Err set), and is never a successful answer.
func TestMeasurePending(t *testing.T) {
	s := []reports.Sample{
		{Latency: 2 * time.Millisecond, Code: 302},
		{Latency: 40 * time.Millisecond, Pending: true},
		{Latency: 3 * time.Second, Pending: true, Err: "in flight past its bound"},
		{Latency: 4 * time.Second, Pending: true, Err: "in flight past its bound"},
	}
	for _, c := range []struct {
		th   string
		want float64
	}{{"errors<1%", 0.5}, {"rate>1/s", 4}, {"goodput>1/s", 1}, {"p(99)<1s", 4000}, {"max_ok<1s", 40}} {
		th, err := ParseThreshold(c.th)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := th.Measure(s, 1); !ok || v != c.want {
			t.Errorf("%s: got %g ok=%v, want %g", c.th, v, ok, c.want)
		}
	}
}

func TestEvaluateSLOs(t *testing.T) {
	windows := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 10}, {Name: reports.PhaseFault, StartS: 10, EndS: 20}, {Name: reports.PhaseRecovery, StartS: 20, EndS: 30}}
	var all []reports.Sample
	for i := range 100 {
		at := time.Duration(i) * 100 * time.Millisecond // 0..9.9 s: baseline only
		all = append(all, reports.Sample{Stream: "r", At: at, Latency: time.Duration(i+1) * time.Millisecond, Code: 302, Lag: time.Duration(i) * time.Microsecond})
	}
	for i := range 10 {
		all = append(all, reports.Sample{Stream: "r", At: 10*time.Second + time.Duration(i)*time.Second, Latency: time.Second, Code: 503, Err: "503 Service Unavailable"})
	}
	reports.AssignPhases(all, windows)
	p99, _ := ParseThreshold("p(99)<100ms")
	errs, _ := ParseThreshold("errors<1%")
	res := EvaluateSLOs(all, []SLO{{Load: "r", Phases: []string{reports.PhaseBaseline, reports.PhaseFault, reports.PhaseRecovery, reports.PhaseAll}, Thresholds: []Threshold{p99, errs}}}, windows)
	want := []struct {
		phase, th string
		pass      bool
		nodata    bool
	}{
		{"baseline", "p(99)<100ms", true, false}, {"baseline", "errors<1%", true, false},
		{"fault", "p(99)<100ms", false, false}, {"fault", "errors<1%", false, false},
		{"recovery", "p(99)<100ms", false, true}, {"recovery", "errors<1%", false, true},
		{"all", "p(99)<100ms", false, false}, {"all", "errors<1%", false, false},
	}
	if len(res) != len(want) {
		t.Fatalf("got %d results: %+v", len(res), res)
	}
	for i, w := range want {
		r := res[i]
		if r.Phase != w.phase || r.Threshold != w.th || r.Pass != w.pass || r.NoData != w.nodata {
			t.Errorf("result %d: got %+v, want %+v", i, r, w)
		}
	}
	if res[0].Value != 99 || res[0].Unit != reports.UnitMs {
		t.Errorf("baseline p99: got %g %s, want 99 ms", res[0].Value, res[0].Unit)
	}
}

// TestEvaluateSLOsSplitFaultPhase: a fault phase in two windows is judged over both, and the
// quiet gap between them stays out.
func TestEvaluateSLOsSplitFaultPhase(t *testing.T) {
	windows := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 10}, {Name: reports.PhaseFault, StartS: 10, EndS: 15}, {Name: reports.PhaseBetween, StartS: 15, EndS: 40}, {Name: reports.PhaseFault, StartS: 40, EndS: 45}, {Name: reports.PhaseRecovery, StartS: 45, EndS: 60}}
	var samples []reports.Sample
	for ms := 0; ms < 60000; ms += 100 { // 10/s for the whole minute; errors only in the gap
		s := reports.Sample{Stream: "s", At: time.Duration(ms) * time.Millisecond, Latency: time.Millisecond, Code: 200}
		if ms >= 15000 && ms < 40000 {
			s.Code, s.Latency = 503, time.Second
		}
		samples = append(samples, s)
	}
	reports.AssignPhases(samples, windows)
	var ths []Threshold
	for _, raw := range []string{"rate>9/s", "rate<11/s", "errors<1%"} {
		th, err := ParseThreshold(raw)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	for _, r := range EvaluateSLOs(samples, []SLO{{Load: "s", Phases: []string{reports.PhaseFault}, Thresholds: ths}}, windows) {
		if !r.Pass {
			t.Errorf("%s in fault: %v (the gap's errors or a halved length leaked in)", r.Threshold, r.Value)
		}
	}
}
