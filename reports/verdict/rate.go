package verdict

import (
	"fmt"

	"github.com/faultline/faultline/reports"
)

// MaxRateShortfall is how far under the asked rate a phase's achieved rate may fall before
// the run measured the load generator rather than the system: 0.5 %, on top of one request
// per phase window for rounding (see RateShort).
const MaxRateShortfall = 0.005

// RateShort says, for each phase of each stream whose achieved rate (requests ÷ the
// wall-clock send window, reports.SendWindow) fell more than MaxRateShortfall under the rate
// its schedule asked for, that the generator fell behind there: the system saw less load than
// the scenario claims, so such a run is never a pass and never a kill. The shortfall is
// counted in requests, (asked rate − achieved rate) × send window, and one request per window
// of the phase is forgiven: a window's edges cut the schedule at arbitrary instants, so an
// on-time window may hold up to one request fewer than rate × length (for a phase under 200
// requests, 0.5 % is less than that one request). Phases without an asked rate (a stream of
// unknown schedule, a 0/s stage) and the whole-run figure ("all") are not judged.
func RateShort(streams []reports.StreamResult, windows []reports.PhaseWindow) []string {
	var why []string
	for _, st := range streams {
		for _, f := range st.Phases {
			if f.Phase == reports.PhaseAll || f.AskedRate <= 0 {
				continue
			}
			expected := f.AskedRate * f.SendWindowS
			rounding := float64(max(1, len(reports.Windows(windows, f.Phase))))
			if short := expected - float64(f.Requests); short > MaxRateShortfall*expected+rounding {
				why = append(why, fmt.Sprintf("stream %s, phase %s: achieved %.1f/s of %.1f/s asked (%.2f%%: %d requests sent over %.3fs of wall clock, where the asked rate gives %.1f), more than %.1f%% and %.0f request(s) of rounding under: the load generator fell behind",
					st.Name, f.Phase, f.AchievedRate, f.AskedRate, 100*f.AchievedRate/f.AskedRate, f.Requests, f.SendWindowS, expected, 100*MaxRateShortfall, rounding))
			}
		}
	}
	return why
}
