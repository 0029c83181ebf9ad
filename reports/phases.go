package reports

import (
	"fmt"
	"sort"
	"time"
)

// PhaseAll names the whole run in per-phase figures and SLOs.
const PhaseAll = "all"

// CutPhases cuts a run of length total into phase windows around its disturbances, each a
// [start, end) span from the run start, in any order, overlapping or not: baseline before the
// first starts, fault while any is active, between in a quiet gap after one ended and before
// the next starts, recovery after the last ended. Fault and between may thus have several
// windows; the gaps are kept out of the fault phase because healthy time there would dilute
// exactly the figures the fault is judged on. A window of zero length is left out, yet a
// disturbance of zero length (a restart) still ends the baseline and starts the recovery.
// Without disturbances the whole run is baseline. Spans are clipped to [0, total].
func CutPhases(total time.Duration, disturbances [][2]time.Duration) []PhaseWindow {
	if len(disturbances) == 0 {
		return []PhaseWindow{{Name: PhaseBaseline, StartS: 0, EndS: total.Seconds()}}
	}
	spans := make([][2]time.Duration, 0, len(disturbances))
	for _, d := range disturbances {
		from := min(max(d[0], 0), total)
		spans = append(spans, [2]time.Duration{from, min(max(d[1], from), total)})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		if sp[0] <= last[1] {
			last[1] = max(last[1], sp[1])
			continue
		}
		merged = append(merged, sp)
	}
	var out []PhaseWindow
	add := func(name string, from, to time.Duration) {
		if to <= from {
			return
		}
		if n := len(out); n > 0 && out[n-1].Name == name && out[n-1].EndS == from.Seconds() {
			out[n-1].EndS = to.Seconds() // two gaps around a zero-length disturbance are one
			return
		}
		out = append(out, PhaseWindow{Name: name, StartS: from.Seconds(), EndS: to.Seconds()})
	}
	add(PhaseBaseline, 0, merged[0][0])
	for i, m := range merged {
		if i > 0 {
			add(PhaseBetween, merged[i-1][1], m[0])
		}
		add(PhaseFault, m[0], m[1])
	}
	add(PhaseRecovery, merged[len(merged)-1][1], total)
	return out
}

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

// Windows returns the windows of a phase, in order; PhaseAll is one window over the whole run.
func Windows(windows []PhaseWindow, name string) []PhaseWindow {
	if name == PhaseAll {
		if w, ok := Window(windows, PhaseAll); ok {
			return []PhaseWindow{w}
		}
		return nil
	}
	var out []PhaseWindow
	for _, w := range windows {
		if w.Name == name {
			out = append(out, w)
		}
	}
	return out
}

// Length is a phase's time in seconds, the sum of its windows: what a rate in that phase is
// divided by. It is false when the run has no such phase.
func Length(windows []PhaseWindow, name string) (float64, bool) {
	ws := Windows(windows, name)
	total := 0.0
	for _, w := range ws {
		total += w.EndS - w.StartS
	}
	return total, len(ws) > 0
}

// Window returns the span of a phase by name, from the start of its first window to the end
// of its last (for a phase with several windows this includes what lies between them: use
// Windows or Length for figures); PhaseAll spans every window.
func Window(windows []PhaseWindow, name string) (PhaseWindow, bool) {
	var span PhaseWindow
	found := false
	for _, w := range windows {
		if name != PhaseAll && w.Name != name {
			continue
		}
		if !found {
			span, found = PhaseWindow{Name: name, StartS: w.StartS, EndS: w.EndS}, true
			continue
		}
		span.StartS, span.EndS = min(span.StartS, w.StartS), max(span.EndS, w.EndS)
	}
	return span, found
}

// CheckWindows reports windows that overlap, run backwards, repeat the name of the window
// right before them (those would be one window) or repeat baseline or recovery. Fault and
// between may recur: a fault phase interrupted by a quiet gap has two windows.
func CheckWindows(windows []PhaseWindow) error {
	seen := map[string]bool{}
	for i, w := range windows {
		if w.EndS < w.StartS {
			return fmt.Errorf("reports: phase %q ends (%gs) before it starts (%gs)", w.Name, w.EndS, w.StartS)
		}
		if seen[w.Name] && (w.Name == PhaseBaseline || w.Name == PhaseRecovery) {
			return fmt.Errorf("reports: phase %q appears twice", w.Name)
		}
		seen[w.Name] = true
		if i == 0 {
			continue
		}
		prev := windows[i-1]
		if w.StartS < prev.EndS {
			return fmt.Errorf("reports: phase %q starts before %q ends", w.Name, prev.Name)
		}
		if w.Name == prev.Name {
			return fmt.Errorf("reports: phase %q appears twice in a row", w.Name)
		}
	}
	return nil
}
