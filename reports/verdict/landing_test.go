package verdict

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

func TestLandingInvalid(t *testing.T) {
	httpErr := reports.FaultEvent{Fault: "http_error", Target: "redirect->link", Params: map[string]string{"status": "503", "share": "0.2"}, AppliedAt: 8, HealedAt: 18}
	bg := reports.FaultEvent{Fault: "partition", Target: "redirect->redis", Background: true}
	edge := func(calls, errs int) []reports.MapEdge {
		return []reports.MapEdge{
			{From: "gateway", To: "redirect", Phases: []reports.EdgeFigure{{Phase: reports.PhaseFault, Calls: 1000, Errors: 0}}},
			{From: "redirect", To: "link", Phases: []reports.EdgeFigure{
				{Phase: reports.PhaseBaseline, Calls: 800, Errors: 0},
				{Phase: reports.PhaseFault, Calls: calls, Errors: errs}}},
		}
	}
	cases := []struct {
		name   string
		faults []reports.FaultEvent
		m      []reports.MapEdge
		want   string // "" = judged landed (or not judged)
	}{
		{"landed at its share", []reports.FaultEvent{bg, httpErr}, edge(1000, 199), ""},
		// 4 sigma of 0.2 over 1,000 is 5.1 points, plus 1: 13.9 % is the floor
		{"just above the floor", []reports.FaultEvent{httpErr}, edge(1000, 140), ""},
		{"below the floor", []reports.FaultEvent{httpErr}, edge(1000, 130), "did not land: 130 of 1000 calls failed in the fault phase (13.0 %), want at least 13.9 %"},
		{"did not land at all", []reports.FaultEvent{bg, httpErr}, edge(1000, 0), "did not land"},
		{"more errors than the share (an open breaker, timeouts)", []reports.FaultEvent{httpErr}, edge(1000, 900), ""},
		{"too few calls to tell", []reports.FaultEvent{httpErr}, edge(20, 0), "20 calls on the edge in the fault phase, too few"},
		{"no call on the edge", []reports.FaultEvent{httpErr}, edge(0, 0)[:1], "0 calls on the edge"},
		{"another disturbance shares the phase: not judged", []reports.FaultEvent{httpErr, {Fault: "latency", Target: "link->link-db"}}, edge(1000, 0), ""},
		{"a failed apply is no disturbance", []reports.FaultEvent{httpErr, {Fault: "latency", Target: "link->link-db", Error: "x"}}, edge(1000, 0), "did not land"},
		{"not a share fault", []reports.FaultEvent{{Fault: "latency", Target: "redirect->link"}}, edge(1000, 0), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := LandingInvalid(c.faults, c.m)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
