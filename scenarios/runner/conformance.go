package runner

import "github.com/faultline/faultline/reports"

// spansLost is how many spans the run is known to have lost (nil: unknown, taken as none;
// the telemetry notes say why).
func spansLost(t *reports.TelemetryHealth) int {
	if t == nil {
		return 0
	}
	return t.SpansDroppedByLab + t.SpansRejected + t.SpansDroppedBySDK
}
