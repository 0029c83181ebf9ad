package reports

import (
	"fmt"
	"time"
)

// PhaseAll names the whole run in per-phase figures and SLOs.
const PhaseAll = "all"

// PhaseAt returns the phase whose window holds at (an offset from the run start), or "" when
// none does. Windows are half-open [start, end): a request scheduled exactly when a fault
// starts belongs to the fault phase. A caller passes a result's *scheduled* time, never its
// completion: a request sent during the baseline that completes during the fault is a
// baseline request, so a fault cannot hide its own slow responses in the next phase.
func PhaseAt(windows []PhaseWindow, at time.Duration) string {
	s := at.Seconds()
	for _, w := range windows {
		if s >= w.StartS && s < w.EndS {
			return w.Name
		}
	}
	return ""
}

// AssignPhases sets each sample's Phase from its scheduled offset At.
func AssignPhases(samples []Sample, windows []PhaseWindow) {
	for i := range samples {
		samples[i].Phase = PhaseAt(windows, samples[i].At)
	}
}

// Window returns the window of a phase by name; PhaseAll spans every window.
func Window(windows []PhaseWindow, name string) (PhaseWindow, bool) {
	if name == PhaseAll {
		if len(windows) == 0 {
			return PhaseWindow{}, false
		}
		all := PhaseWindow{Name: PhaseAll, StartS: windows[0].StartS, EndS: windows[0].EndS}
		for _, w := range windows[1:] {
			all.StartS = min(all.StartS, w.StartS)
			all.EndS = max(all.EndS, w.EndS)
		}
		return all, true
	}
	for _, w := range windows {
		if w.Name == name {
			return w, true
		}
	}
	return PhaseWindow{}, false
}

// CheckWindows reports windows that overlap, run backwards or repeat a name.
func CheckWindows(windows []PhaseWindow) error {
	seen := map[string]bool{}
	for i, w := range windows {
		if w.EndS < w.StartS {
			return fmt.Errorf("reports: phase %q ends (%gs) before it starts (%gs)", w.Name, w.EndS, w.StartS)
		}
		if seen[w.Name] {
			return fmt.Errorf("reports: phase %q appears twice", w.Name)
		}
		seen[w.Name] = true
		if i > 0 && w.StartS < windows[i-1].EndS {
			return fmt.Errorf("reports: phase %q starts before %q ends", w.Name, windows[i-1].Name)
		}
	}
	return nil
}
