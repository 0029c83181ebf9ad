package reports

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
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
		{"p(99)<50ms", "p", 99, "<", 50, UnitMs},
		{"p(95)<=1s", "p", 95, "<=", 1000, UnitMs},
		{"p(99.9) < 1.5s", "p", 99.9, "<", 1500, UnitMs},
		{"p(90)<200", "p", 90, "<", 200, UnitMs}, // k6: a bare number is milliseconds
		{"avg<20ms", "avg", 0, "<", 20, UnitMs},
		{"med<10ms", "med", 0, "<", 10, UnitMs},
		{"max<2s", "max", 0, "<", 2000, UnitMs},
		{"min>0ms", "min", 0, ">", 0, UnitMs},
		{"errors<0.1%", "errors", 0, "<", 0.001, UnitRatio},
		{"errors<=5%", "errors", 0, "<=", 0.05, UnitRatio},
		{"errors<100%", "errors", 0, "<", 1, UnitRatio}, // fails when every request fails
		{"errors>=100%", "errors", 0, ">=", 1, UnitRatio},
		{"p(99)>0", "p", 99, ">", 0, UnitMs},
		{"errors>50%", "errors", 0, ">", 0.5, UnitRatio},
		{"rate>=95/s", "rate", 0, ">=", 95, UnitPerS},
		{"rate>10", "rate", 0, ">", 10, UnitPerS},
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

func samples(stream, phase string, latMs []float64, codes []int) []Sample {
	out := make([]Sample, len(latMs))
	for i, l := range latMs {
		out[i] = Sample{Stream: stream, Phase: phase, At: time.Duration(i) * 100 * time.Millisecond,
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
	s := []Sample{
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

func TestFailed(t *testing.T) {
	cases := []struct {
		s    Sample
		fail bool
	}{
		{Sample{Code: 200}, false}, {Sample{Code: 201}, false}, {Sample{Code: 302}, false},
		{Sample{Code: 404}, true}, {Sample{Code: 429}, true}, {Sample{Code: 503}, true},
		{Sample{Code: 0, Err: "connection refused"}, true}, {Sample{Code: 0}, true},
		{Sample{Code: 200, Err: "body read: unexpected EOF"}, true}, {Sample{Code: 101}, true},
	}
	for _, c := range cases {
		if c.s.Failed() != c.fail {
			t.Errorf("%+v: Failed() = %v", c.s, !c.fail)
		}
	}
}

func TestEvaluateSLOsAndFigures(t *testing.T) {
	windows := []PhaseWindow{{PhaseBaseline, 0, 10}, {PhaseFault, 10, 20}, {PhaseRecovery, 20, 30}}
	var all []Sample
	for i := range 100 {
		at := time.Duration(i) * 100 * time.Millisecond // 0..9.9 s: baseline only
		all = append(all, Sample{Stream: "r", At: at, Latency: time.Duration(i+1) * time.Millisecond, Code: 302, Lag: time.Duration(i) * time.Microsecond})
	}
	for i := range 10 {
		all = append(all, Sample{Stream: "r", At: 10*time.Second + time.Duration(i)*time.Second, Latency: time.Second, Code: 503, Err: "503 Service Unavailable"})
	}
	AssignPhases(all, windows)
	p99, _ := ParseThreshold("p(99)<100ms")
	errs, _ := ParseThreshold("errors<1%")
	res := EvaluateSLOs(all, []SLOSpec{{Stream: "r", Phases: []string{PhaseBaseline, PhaseFault, PhaseRecovery, PhaseAll}, Thresholds: []Threshold{p99, errs}}}, windows)
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
	if res[0].Value != 99 || res[0].Unit != UnitMs {
		t.Errorf("baseline p99: got %g %s, want 99 ms", res[0].Value, res[0].Unit)
	}

	figs := Figures(all, []StreamSpec{{Name: "r", Request: "GET /r/{code}", Rate: 10}, {Name: "idle", Rate: 1}}, windows)
	if len(figs) != 2 || len(figs[0].Phases) != 4 {
		t.Fatalf("figures shape: %+v", figs)
	}
	base, fault, rec, whole := figs[0].Phases[0], figs[0].Phases[1], figs[0].Phases[2], figs[0].Phases[3]
	if base.Requests != 100 || base.AchievedRate != 10 || base.P50Ms != 50 || base.P99Ms != 99 || base.MaxMs != 100 || base.Errors != 0 || base.StatusCodes["302"] != 100 {
		t.Errorf("baseline figure: %+v", base)
	}
	if base.SendLagP99Ms != 0.098 {
		t.Errorf("baseline send lag p99: got %g ms, want 0.098", base.SendLagP99Ms)
	}
	if fault.Requests != 10 || fault.ErrorRate != 1 || len(fault.ErrorSamples) != 1 || fault.StatusCodes["503"] != 10 {
		t.Errorf("fault figure: %+v", fault)
	}
	if rec.Requests != 0 || whole.Requests != 110 || whole.Phase != PhaseAll || math.Abs(whole.AchievedRate-110.0/30) > 1e-9 {
		t.Errorf("recovery/all figures: %+v / %+v", rec, whole)
	}
	if figs[1].Phases[3].Requests != 0 {
		t.Error("idle stream has requests")
	}

	ts := Timeseries(all)
	if len(ts) != 20 || ts[0].T != 0 || ts[0].Requests != 10 || ts[10].T != 10 || ts[10].Errors != 1 {
		t.Errorf("timeseries: %d buckets, first %+v", len(ts), ts[0])
	}
}

func TestPhaseAt(t *testing.T) {
	windows := []PhaseWindow{{PhaseBaseline, 0, 10}, {PhaseFault, 10, 20}, {PhaseRecovery, 20, 30}}
	cases := []struct {
		at   time.Duration
		want string
	}{
		{0, PhaseBaseline}, {9999 * time.Millisecond, PhaseBaseline}, {10 * time.Second, PhaseFault},
		{20 * time.Second, PhaseRecovery}, {30 * time.Second, ""}, {-time.Second, ""},
	}
	for _, c := range cases {
		if got := PhaseAt(windows, c.at); got != c.want {
			t.Errorf("PhaseAt(%s) = %q, want %q", c.at, got, c.want)
		}
	}
	// Assigned by scheduled time: a slow baseline request completing in the fault phase
	// stays a baseline request.
	s := []Sample{{At: 9900 * time.Millisecond, Latency: 5 * time.Second}}
	AssignPhases(s, windows)
	if s[0].Phase != PhaseBaseline {
		t.Errorf("phase by completion time: %q", s[0].Phase)
	}
	if w, ok := Window(windows, PhaseAll); !ok || w.StartS != 0 || w.EndS != 30 {
		t.Errorf("all window: %+v", w)
	}
	if err := CheckWindows(windows); err != nil {
		t.Error(err)
	}
	for _, bad := range [][]PhaseWindow{{{"a", 0, 10}, {"b", 5, 20}}, {{"a", 10, 0}}, {{"a", 0, 1}, {"a", 1, 2}},
		{{PhaseBaseline, 0, 1}, {PhaseFault, 1, 2}, {PhaseBaseline, 2, 3}}} {
		if CheckWindows(bad) == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestCutPhases(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	span := func(from, to float64) [2]time.Duration { return [2]time.Duration{sec(from), sec(to)} }
	cases := []struct {
		name  string
		spans [][2]time.Duration
		want  []PhaseWindow
	}{
		{"none", nil, []PhaseWindow{{PhaseBaseline, 0, 60}}},
		{"one", [][2]time.Duration{span(20, 30)},
			[]PhaseWindow{{PhaseBaseline, 0, 20}, {PhaseFault, 20, 30}, {PhaseRecovery, 30, 60}}},
		{"a gap is between, not fault", [][2]time.Duration{span(40, 45), span(10, 15)},
			[]PhaseWindow{{PhaseBaseline, 0, 10}, {PhaseFault, 10, 15}, {PhaseBetween, 15, 40}, {PhaseFault, 40, 45}, {PhaseRecovery, 45, 60}}},
		{"touching spans are one window", [][2]time.Duration{span(10, 20), span(20, 30)},
			[]PhaseWindow{{PhaseBaseline, 0, 10}, {PhaseFault, 10, 30}, {PhaseRecovery, 30, 60}}},
		{"nested", [][2]time.Duration{span(10, 40), span(20, 30)},
			[]PhaseWindow{{PhaseBaseline, 0, 10}, {PhaseFault, 10, 40}, {PhaseRecovery, 40, 60}}},
		{"clipped to the run", [][2]time.Duration{span(-1, 5), span(50, 70)},
			[]PhaseWindow{{PhaseFault, 0, 5}, {PhaseBetween, 5, 50}, {PhaseFault, 50, 60}}},
		{"zero length still cuts baseline and recovery", [][2]time.Duration{span(20, 20)},
			[]PhaseWindow{{PhaseBaseline, 0, 20}, {PhaseRecovery, 20, 60}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CutPhases(time.Minute, c.spans)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
			if err := CheckWindows(got); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSplitFaultPhase: samples in the gap between two faults are not fault samples, and a
// rate in a fault phase of two windows is divided by their summed length, not the first's.
func TestSplitFaultPhase(t *testing.T) {
	windows := []PhaseWindow{{PhaseBaseline, 0, 10}, {PhaseFault, 10, 15}, {PhaseBetween, 15, 40}, {PhaseFault, 40, 45}, {PhaseRecovery, 45, 60}}
	var samples []Sample
	for ms := 0; ms < 60000; ms += 100 { // 10/s for the whole minute; errors only in the gap
		s := Sample{Stream: "s", At: time.Duration(ms) * time.Millisecond, Latency: time.Millisecond, Code: 200}
		if ms >= 15000 && ms < 40000 {
			s.Code, s.Latency = 503, time.Second
		}
		samples = append(samples, s)
	}
	AssignPhases(samples, windows)
	if n, ok := Length(windows, PhaseFault); !ok || n != 10 {
		t.Errorf("fault length %v %v, want 10", n, ok)
	}
	if ws := Windows(windows, PhaseFault); len(ws) != 2 {
		t.Errorf("fault windows %v", ws)
	}
	figs := Figures(samples, []StreamSpec{{Name: "s"}}, windows)
	var names []string
	for _, f := range figs[0].Phases {
		names = append(names, f.Phase)
		if f.Phase == PhaseFault && (f.Requests != 100 || f.Errors != 0 || f.AchievedRate != 10) {
			t.Errorf("fault figure %+v: want 100 requests, no error, 10/s", f)
		}
		if f.Phase == PhaseBetween && (f.Requests != 250 || f.Errors != 250) {
			t.Errorf("between figure %+v: want the 250 gap requests", f)
		}
	}
	if want := []string{PhaseBaseline, PhaseFault, PhaseBetween, PhaseRecovery, PhaseAll}; !slices.Equal(names, want) {
		t.Errorf("figure phases %v, want %v", names, want)
	}
	var ths []Threshold
	for _, raw := range []string{"rate>9/s", "rate<11/s", "errors<1%"} {
		th, err := ParseThreshold(raw)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	for _, r := range EvaluateSLOs(samples, []SLOSpec{{Stream: "s", Phases: []string{PhaseFault}, Thresholds: ths}}, windows) {
		if !r.Pass {
			t.Errorf("%s in fault: %v (the gap's errors or a halved length leaked in)", r.Threshold, r.Value)
		}
	}
}
