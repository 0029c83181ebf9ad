package verdict

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/faultline/faultline/reports"
)

// MinLandedErrors is how many errors a share fault must be expected to cause on its edge in
// the fault phase before its landing can be judged: below it the binomial spread swallows
// the signal.
const MinLandedErrors = 5

// LandingInvalid says why a request-level http_error fault cannot be shown to have landed, or
// "". Its edge's calls in the fault phase, as the caller's spans count them (the service
// map), must show at least the fault's share of errors, less the binomial's 4 sigma and 1
// point: a share fault that did not land (a toxic that parsed nothing, a proxy the caller
// bypassed) would leave a run that proves nothing, and a run that proves nothing is never a
// pass and never a kill. Only the lower side is held: timeouts and an open breaker add
// errors of their own. A fault whose window is not the fault phase (other disturbances
// share it) is not judged here.
func LandingInvalid(faults []reports.FaultEvent, serviceMap []reports.MapEdge) string {
	var disturbances []reports.FaultEvent
	for _, f := range faults {
		if !f.Background && f.Error == "" {
			disturbances = append(disturbances, f)
		}
	}
	if len(disturbances) != 1 || disturbances[0].Fault != "http_error" {
		return ""
	}
	f := disturbances[0]
	share, err := strconv.ParseFloat(f.Params["share"], 64)
	if err != nil || share <= 0 {
		return ""
	}
	from, to, _ := strings.Cut(f.Target, "->")
	calls, errs := 0, 0
	for _, e := range serviceMap {
		if e.From != from || e.To != to {
			continue
		}
		for _, p := range e.Phases {
			if p.Phase == reports.PhaseFault {
				calls, errs = p.Calls, p.Errors
			}
		}
	}
	if float64(calls)*share < MinLandedErrors {
		return fmt.Sprintf("http_error on %s: %d calls on the edge in the fault phase, too few to show that a %g share landed (want at least %d expected errors)", f.Target, calls, share, MinLandedErrors)
	}
	got := float64(errs) / float64(calls)
	floor := share - 4*math.Sqrt(share*(1-share)/float64(calls)) - 0.01
	if got < floor {
		return fmt.Sprintf("http_error on %s did not land: %d of %d calls failed in the fault phase (%.1f %%), want at least %.1f %% for a share of %g", f.Target, errs, calls, got*100, floor*100, share)
	}
	return ""
}
