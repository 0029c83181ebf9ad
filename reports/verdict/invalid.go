package verdict

import (
	"fmt"
	"strings"

	"github.com/faultline/faultline/reports"
)

// SpanLossInvalid says why a verdict that needs traces (Expect.NeedsTraces) cannot be trusted
// given what the observation lost, or "".
func SpanLossInvalid(t *reports.TelemetryHealth) string {
	var why []string
	if lost := SpansLost(t); lost > 0 {
		why = append(why, fmt.Sprintf("%d spans lost (services dropped %d, the lab dropped %d and rejected %d)", lost, t.SpansDroppedBySDK, t.SpansDroppedByLab, t.SpansRejected))
	}
	if t.ExportsRefused > 0 {
		why = append(why, fmt.Sprintf("the lab refused %d export requests, their spans uncounted", t.ExportsRefused))
	}
	for _, u := range t.SDKLossUnknown {
		if !u.Expected {
			why = append(why, fmt.Sprintf("%s lost an unknown number of spans (%d processes without a final count: %s)", u.Service, u.Processes, u.Why))
		}
	}
	if len(why) == 0 {
		return ""
	}
	return strings.Join(why, "; ") + ": the blast radius would be computed from missing spans"
}

// SpansLost is how many spans the run is known to have lost (nil: unknown, taken as none;
// the telemetry notes say why).
func SpansLost(t *reports.TelemetryHealth) int {
	if t == nil {
		return 0
	}
	return t.SpansDroppedByLab + t.SpansRejected + t.SpansDroppedBySDK
}

// NotLanded says, for each fault that did not visibly touch the calls it should have (its
// Landing, from traces and the load generator's requests), why the run tested nothing: such
// a run is never a pass and never a kill. A fault whose landing could not be checked is not
// counted here; its evidence says why.
func NotLanded(faults []reports.FaultEvent) []string {
	var why []string
	for _, f := range faults {
		if l := f.Landing; l != nil && l.Status == reports.LandingNotLanded {
			why = append(why, fmt.Sprintf("fault %s on %s did not land: %s", f.Fault, f.Target, l.Evidence))
		}
	}
	return why
}
