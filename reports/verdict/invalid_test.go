package verdict

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

func TestSpanLossInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		t    reports.TelemetryHealth
		want string // "" = valid
	}{
		{"nothing lost", reports.TelemetryHealth{SpansReceived: 10}, ""},
		{"services dropped", reports.TelemetryHealth{SpansDroppedBySDK: 2}, "2 spans lost"},
		{"lab refused exports", reports.TelemetryHealth{ExportsRefused: 1}, "refused 1 export requests"},
		{"unknown loss", reports.TelemetryHealth{SDKLossUnknown: []reports.UnknownSpanLoss{{Service: "redirect", Processes: 1, Why: "killed"}}}, "redirect lost an unknown number"},
		{"expected unknown loss", reports.TelemetryHealth{SDKLossUnknown: []reports.UnknownSpanLoss{{Service: "redirect", Processes: 1, Expected: true}}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := SpanLossInvalid(&c.t)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestNotLanded: a fault that did not land makes the run invalid (never a pass, never a
// kill); one that landed or could not be checked does not.
func TestNotLanded(t *testing.T) {
	faults := []reports.FaultEvent{
		{Fault: "latency", Target: "link->link-db", Landing: &reports.Landing{Status: reports.LandingLanded, Evidence: "24 of 24"}},
		{Fault: "cpu", Target: "link", Landing: &reports.Landing{Status: reports.LandingUnchecked, Evidence: "a CPU share"}},
		{Fault: "reset_peer", Target: "gateway->redirect", Landing: &reports.Landing{Status: reports.LandingNotLanded, Evidence: "0 of 1001 calls failed"}},
		{Fault: "crash", Target: "billing"}, // judged before landings existed
	}
	got := NotLanded(faults)
	if len(got) != 1 || !strings.Contains(got[0], "reset_peer on gateway->redirect did not land: 0 of 1001") {
		t.Fatalf("NotLanded = %q", got)
	}
	res := &reports.Results{Valid: true, ExpectedVerdict: reports.VerdictPass, Faults: faults}
	res.InvalidReasons = got
	res.Valid = false
	Decide(res, nil)
	if res.Verdict == reports.VerdictPass {
		t.Fatalf("a run whose fault did not land passed: %v", res.Reasons)
	}
	own := &reports.Results{Valid: true, Verdict: reports.VerdictPass, ExpectedVerdict: reports.VerdictPass}
	res.Verdict, res.ExpectedVerdict = reports.VerdictFail, reports.VerdictFail
	if k := JudgeKill(own, res); k.Outcome == Caught {
		t.Fatalf("a mutant run whose fault did not land earned a kill: %+v", k)
	}
}
