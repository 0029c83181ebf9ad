package runner

import (
	"reflect"
	"testing"

	"github.com/faultline/faultline/reports"
)

// TestLoadWindowsEndWithTheLoad: the data checks start the moment the load ends, a few
// milliseconds before the planned end (or long before it after an abort); their calls (a read
// of analytics' counts) counted as recovery traffic made analytics "unproven" in smoke.
func TestLoadWindowsEndWithTheLoad(t *testing.T) {
	phases := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 5}, {Name: reports.PhaseFault, StartS: 5, EndS: 10},
		{Name: reports.PhaseRecovery, StartS: 10, EndS: 14}}
	got := loadWindows(phases, 13.995)
	want := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: 5}, {Name: reports.PhaseFault, StartS: 5, EndS: 10},
		{Name: reports.PhaseRecovery, StartS: 10, EndS: 13.995}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loadWindows(…, 13.995) = %+v", got)
	}
	if got := loadWindows(phases, 7); len(got) != 2 || got[1].EndS != 7 {
		t.Errorf("aborted at 7 s: %+v, want the baseline and the fault up to 7 s", got)
	}
	if phases[2].EndS != 14 {
		t.Error("the run's own phases were changed")
	}
}
