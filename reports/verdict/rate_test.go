package verdict

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

// TestRateShort: a phase sent more than 0.5 % (plus one request of rounding per window) under
// its asked rate over its wall-clock send window makes the run invalid, per phase; rounding,
// a short phase's missing fraction of a request and unjudged phases do not.
func TestRateShort(t *testing.T) {
	one := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 8}, {Name: reports.PhaseFault, StartS: 8, EndS: 18}, {Name: reports.PhaseRecovery, StartS: 18, EndS: 24}}
	split := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 5}, {Name: reports.PhaseFault, StartS: 5, EndS: 10}, {Name: reports.PhaseBetween, StartS: 10, EndS: 12}, {Name: reports.PhaseFault, StartS: 12, EndS: 17}}
	// fig is a phase of the given length sent with its last request late by lateS.
	fig := func(phase string, asked float64, lengthS, lateS float64, requests int) reports.PhaseFigure {
		w := lengthS + lateS
		return reports.PhaseFigure{Phase: phase, Requests: requests, SendWindowS: w, AchievedRate: float64(requests) / w,
			AskedRate: asked, AskedRequests: asked * lengthS}
	}
	for _, c := range []struct {
		name    string
		f       reports.PhaseFigure
		windows []reports.PhaseWindow
		want    string // "" = not short
	}{
		{"on time", fig(reports.PhaseFault, 100, 10, 0, 1000), one, ""},
		{"rounding: the window cut one request off", fig(reports.PhaseRecovery, 20, 6, 0.0007, 119), one, ""},
		{"last send 40 ms late in 10 s: within 0.5 %", fig(reports.PhaseFault, 100, 10, 0.04, 1000), one, ""},
		{"last send 100 ms late in 10 s", fig(reports.PhaseFault, 100, 10, 0.1, 1000), one, "stream redirect, phase fault: achieved 99.0/s of 100.0/s asked"},
		{"7 of 1000 requests never sent", fig(reports.PhaseFault, 100, 10, 0, 993), one, "phase fault"},
		{"6 of 1000 never sent: 0.5 % and one request", fig(reports.PhaseFault, 100, 10, 0, 994), one, ""},
		{"short phase: one request fewer than 20", fig(reports.PhaseBaseline, 10, 2, 0, 19), one, ""},
		{"short phase: two fewer than 20", fig(reports.PhaseBaseline, 10, 2, 0, 18), one, "phase baseline"},
		{"two windows: two requests of rounding", fig(reports.PhaseFault, 20, 10, 0, 198), split, ""},
		{"two windows: four missing", fig(reports.PhaseFault, 20, 10, 0, 196), split, "phase fault"},
		{"nothing sent", fig(reports.PhaseFault, 100, 10, 0, 0), one, "achieved 0.0/s of 100.0/s"},
		{"no asked rate (unknown schedule, 0/s stage)", fig(reports.PhaseFault, 0, 10, 0, 0), one, ""},
		{"the whole run is not a phase", fig(reports.PhaseAll, 100, 24, 0, 0), one, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := RateShort([]reports.StreamResult{{Name: "redirect", Phases: []reports.PhaseFigure{c.f}}}, c.windows)
			if c.want == "" && len(got) > 0 || c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestRateShortInvalidates: through the one verdict, a run whose generator fell behind in one
// phase is never a pass and its fail is never a kill.
func TestRateShortInvalidates(t *testing.T) {
	windows := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 8}, {Name: reports.PhaseFault, StartS: 8, EndS: 18}}
	streams := []reports.StreamResult{{Name: "create", Phases: []reports.PhaseFigure{
		{Phase: reports.PhaseBaseline, Requests: 400, SendWindowS: 8, AchievedRate: 50, AskedRate: 50, AskedRequests: 400},
		{Phase: reports.PhaseFault, Requests: 3000, SendWindowS: 10.4, AchievedRate: 3000 / 10.4, AskedRate: 300, AskedRequests: 3000},
	}}}
	why := RateShort(streams, windows)
	if len(why) != 1 || !strings.Contains(why[0], "stream create, phase fault: achieved 288.5/s of 300.0/s asked (96.15%") {
		t.Fatalf("RateShort = %q", why)
	}
	for _, expect := range []string{reports.VerdictPass, reports.VerdictFail} {
		res := &reports.Results{Valid: true, ExpectedVerdict: expect, Phases: windows, Streams: streams,
			SLOs: []reports.SLOResult{{Stream: "create", Phase: reports.PhaseFault, Pass: expect == reports.VerdictPass}}}
		res.Valid, res.InvalidReasons = false, why
		Decide(res, nil)
		if res.Verdict == reports.VerdictPass || res.AsExpected && expect == reports.VerdictPass {
			t.Fatalf("expect %s: a run whose generator fell behind passed: %v", expect, res.Reasons)
		}
		if !strings.Contains(strings.Join(res.Reasons, "\n"), "measurement invalid: stream create, phase fault") {
			t.Errorf("reasons %q do not say why", res.Reasons)
		}
		own := &reports.Results{Valid: true, Verdict: reports.VerdictPass, ExpectedVerdict: reports.VerdictPass}
		if k := JudgeKill(own, res); k.Outcome == Caught {
			t.Errorf("a mutant run whose generator fell behind earned a kill: %+v", k)
		}
	}
}
