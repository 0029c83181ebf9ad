package reports

import (
	"math"
	"slices"
	"testing"
	"time"
)

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

func TestFigures(t *testing.T) {
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

	figs := Figures(all, []StreamSpec{{Name: "r", Request: "GET /r/{code}", Rate: 10}, {Name: "idle", Rate: 1}}, windows)
	if len(figs) != 2 || len(figs[0].Phases) != 4 {
		t.Fatalf("figures shape: %+v", figs)
	}
	base, fault, rec, whole := figs[0].Phases[0], figs[0].Phases[1], figs[0].Phases[2], figs[0].Phases[3]
	// The last baseline request went out 99 µs late: the send window is stretched by that much
	// and the achieved rate is over it, never over the nominal 10 s.
	if math.Abs(base.SendWindowS-10.000099) > 1e-9 || base.AchievedRate != 100/base.SendWindowS || base.AchievedRate >= 10 {
		t.Errorf("baseline send window %gs, achieved %g/s: want 10.000099 s and 100 requests over it", base.SendWindowS, base.AchievedRate)
	}
	if base.Requests != 100 || base.P50Ms != 50 || base.P99Ms != 99 || base.MaxMs != 100 || base.Errors != 0 || base.StatusCodes["302"] != 100 {
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
}

// TestSendWindowAndAsked: a phase's achieved rate is over its wall-clock send window, each of
// its windows stretched by how late its own last request went out; the asked rate comes from
// the stream's schedule over the phase's windows.
func TestSendWindowAndAsked(t *testing.T) {
	windows := []PhaseWindow{{PhaseBaseline, 0, 5}, {PhaseFault, 5, 10}, {PhaseBetween, 10, 12}, {PhaseFault, 12, 17}}
	var samples []Sample
	for i := range 170 {
		s := Sample{Stream: "r", At: time.Duration(i) * 100 * time.Millisecond, Code: 302}
		if i == 99 { // the first fault window's last request, 300 ms late
			s.Lag = 300 * time.Millisecond
		}
		if i == 50 { // a request in the middle, later than the window's end: it counts too
			s.Lag = 5200 * time.Millisecond
		}
		samples = append(samples, s)
	}
	AssignPhases(samples, windows)
	asked := func(from, to time.Duration) float64 { return 10 * (to - from).Seconds() }
	figs := Figures(samples, []StreamSpec{{Name: "r", Rate: 10, Asked: asked}}, windows)
	byPhase := map[string]PhaseFigure{}
	for _, f := range figs[0].Phases {
		byPhase[f.Phase] = f
	}
	for _, c := range []struct {
		phase                    string
		requests                 int
		window, achieved, askedR float64
	}{
		// fault: [5,10) holds 9.9 s sent at 10.2 s, and 5.0 s sent at 10.2 s: +0.3 s; [12,17) on time.
		{PhaseFault, 100, 10.3, 100 / 10.3, 10},
		{PhaseBetween, 20, 2, 10, 10},
		{PhaseBaseline, 50, 5, 10, 10},
		{PhaseAll, 170, 17, 10, 10},
	} {
		f := byPhase[c.phase]
		if f.Requests != c.requests || math.Abs(f.SendWindowS-c.window) > 1e-9 || math.Abs(f.AchievedRate-c.achieved) > 1e-9 || math.Abs(f.AskedRate-c.askedR) > 1e-9 {
			t.Errorf("%s: %d requests over %gs = %g/s of %g/s asked; want %d over %gs = %g/s of %g/s", c.phase, f.Requests, f.SendWindowS, f.AchievedRate, f.AskedRate, c.requests, c.window, c.achieved, c.askedR)
		}
	}
	if f := byPhase[PhaseFault]; math.Abs(f.AskedRequests-100) > 1e-9 {
		t.Errorf("fault asked %g requests, want 100", f.AskedRequests)
	}
}
