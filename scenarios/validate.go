package scenarios

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
)

var profileRE = nameRE

// validate checks what needs the whole file (cross references, the schedule) and fills
// defaults. Field-level checks happened while decoding.
func validate(d *decoder, sc *Scenario) {
	file := d.file
	errs := d.errs
	if sc.Profile == "" {
		sc.Profile = "default"
	} else if !profileRE.MatchString(sc.Profile) && !strings.HasSuffix(sc.Profile, ".yaml") {
		errs.add(file, sc.keyPos["profile"], "profile: expected a profile name (default, aggressive, none, a mutant) or a .yaml path, got %q", sc.Profile)
	}
	if sc.Expect.Verdict == "" {
		sc.Expect.Verdict = reports.VerdictPass
	}
	dur := sc.Duration.D()
	if dur > MaxDuration {
		errs.add(file, sc.keyPos["duration"], "duration: expected at most %s, got %s", MaxDuration, dur)
	}

	streams := map[string]bool{}
	maxCodes := 0
	for i := range sc.Load {
		st := &sc.Load[i]
		if st.UsesCodes() && st.Codes < 0 {
			// Default: 50 codes, or every link when setup creates fewer.
			st.Codes = DefaultCodes
			if sc.Setup.Links >= 0 {
				st.Codes = min(DefaultCodes, sc.Setup.Links)
			}
		}
		if st.Name != "" && streams[st.Name] {
			errs.add(file, st.pos, "load[%d].name: duplicate stream %q, expected unique names", i, st.Name)
		}
		streams[st.Name] = true
		if st.Ramp != nil && dur > 0 && st.Ramp.Over.D() > dur {
			errs.add(file, st.pos, "load[%d].ramp.over: expected at most the duration %s, got %s", i, dur, st.Ramp.Over)
		}
		var staged Duration
		for _, sg := range st.Stages {
			staged += sg.For
		}
		if dur > 0 && staged.D() > dur {
			errs.add(file, st.pos, "load[%d].stages: expected stages to last at most the duration %s, they last %s", i, dur, staged)
		}
		if st.UsesCodes() {
			maxCodes = max(maxCodes, st.Codes)
		}
	}
	if sc.Setup.Links < 0 {
		sc.Setup.Links = maxCodes
	} else {
		for i, st := range sc.Load {
			if st.UsesCodes() && st.Codes == 0 {
				errs.add(file, st.pos, "load[%d]: %s needs codes, expected setup.links > 0", i, st.Request)
			} else if st.UsesCodes() && st.Codes > sc.Setup.Links {
				errs.add(file, st.codesAt, "load[%d].codes: expected at most setup.links (%d) codes, got %d", i, sc.Setup.Links, st.Codes)
			}
		}
	}

	checkSchedule(file, errs, sc.Faults, dur)

	phases := map[string]bool{reports.PhaseAll: true}
	if dur > 0 {
		for _, w := range sc.Phases() {
			phases[w.Name] = true
		}
	}
	for i, slo := range sc.SLOs {
		if slo.Load != "" && !streams[slo.Load] {
			errs.add(file, sc.sloPos[i].load, "slos[%d].load: unknown stream %q, expected one of: %s", i, slo.Load, strings.Join(streamNames(sc), ", "))
		}
		if dur == 0 {
			continue
		}
		for j, ph := range slo.Phases {
			if !phases[ph] {
				errs.add(file, sc.sloPos[i].phases[j], "slos[%d].phases: phase %q does not occur in this schedule (phases: %s)", i, ph, strings.Join(phaseList(sc), ", "))
			}
		}
	}
	if b := sc.Expect.BlastRadius; b != nil {
		for _, name := range sortedKeys(b.UserImpact) {
			if !streams[name] {
				errs.add(file, sc.impactPos[name], "expect.blast_radius.user_impact: unknown stream %q, expected one of: %s", name, strings.Join(streamNames(sc), ", "))
			}
		}
	}
	if dur > 0 {
		checkCanFail(file, errs, sc)
	}
	for i, a := range sc.AbortWhen {
		if !streams[a.Stream] {
			errs.add(file, a.pos, "abort_when[%d]: unknown stream %q, expected one of: %s", i, a.Stream, strings.Join(streamNames(sc), ", "))
		}
		if dur > 0 && a.For.D() > dur {
			errs.add(file, a.pos, "abort_when[%d]: expected a window within the duration %s, got %s", i, dur, a.For)
		}
	}
}

// checkCanFail refuses a scenario in which nothing can fail where it matters, since it would
// pass whatever the system does. With a fault phase, some check must judge it: an SLO whose
// phases include fault (or all) with a threshold that can fail there, or an expectation on
// the blast radius or the resilience mechanisms. expect.data does not count (with no link
// created its bounds hold vacuously), nor does a rate threshold (it measures the load
// generator's schedule, not the system). With no fault phase, at least one SLO must be able to
// fail. Thresholds that can never fail were refused when parsed.
func checkCanFail(file string, errs *Errors, sc *Scenario) {
	faultPhase := false
	for _, w := range sc.Phases() {
		faultPhase = faultPhase || w.Name == reports.PhaseFault
	}
	for _, slo := range sc.SLOs {
		judged := !faultPhase || slices.Contains(slo.Phases, reports.PhaseFault) || slices.Contains(slo.Phases, reports.PhaseAll)
		if judged && slices.ContainsFunc(slo.Thresholds, func(t verdict.Threshold) bool { return t.Metric != "rate" }) {
			return
		}
	}
	const slo = "an SLO with a threshold on errors, goodput or latency"
	if !faultPhase {
		at := sc.keyPos["slos"]
		if at == (Pos{}) {
			at = sc.keyPos["load"]
		}
		errs.add(file, at, "slos: nothing can fail: the schedule has no fault phase (no fault that is not background, no surge), so expected at least %s", slo)
		return
	}
	if b := sc.Expect.BlastRadius; b != nil && (b.ContainedTo != nil || len(b.Unaffected) > 0 || len(b.UserImpact) > 0 || b.MaxAffectedServices != nil) {
		return
	}
	if m := sc.Expect.Mechanisms; m != nil && (len(m.Breakers) > 0 || len(m.MaxRetriesPerRequest) > 0) {
		return
	}
	path, at := "", Pos{}
	for i, f := range sc.Faults {
		if !f.Background {
			path, at = fmt.Sprintf("faults[%d]", i), f.pos
			break
		}
	}
	if path == "" {
		for i, st := range sc.Load {
			if len(st.Surges(sc.Duration.D())) > 0 {
				path, at = fmt.Sprintf("load[%d].stages", i), st.pos
				break
			}
		}
	}
	errs.add(file, at, "%s: nothing can fail in the fault phase: expected %s whose phases include fault or all, or an expect.blast_radius or expect.mechanisms check (expect.data alone holds when nothing was created)", path, slo)
}

// checkSchedule keeps every fault inside the run and refuses two faults on one target at the
// same time: their undos would fight (healing one would heal the other), so the run would not
// test what the file says.
func checkSchedule(file string, errs *Errors, faults []Fault, dur time.Duration) {
	for i, f := range faults {
		if f.Fault == "" {
			continue
		}
		if dur > 0 && f.Start() >= dur {
			errs.add(file, f.atPos, "faults[%d].at: expected a start before the end of the run (%s), got %s", i, dur, f.At)
		} else if dur > 0 && f.End() > dur {
			errs.add(file, f.pos, "faults[%d]: expected the fault to end within the duration %s, it ends at %s", i, dur, f.End())
		}
		for j := range i {
			g := faults[j]
			if g.Target() == "" || g.Target() != f.Target() {
				continue
			}
			// Half-open windows: one may start when the other heals. A zero-length restart
			// still conflicts with a fault active at that instant.
			overlap := f.Start() < g.End() && g.Start() < f.End() ||
				f.For == 0 && f.Start() >= g.Start() && f.Start() < g.End() ||
				g.For == 0 && g.Start() >= f.Start() && g.Start() < f.End() ||
				f.For == 0 && g.For == 0 && f.Start() == g.Start()
			if overlap {
				errs.add(file, f.pos, "faults[%d]: overlaps faults[%d] on %s (%s %s..%s vs %s %s..%s), expected one fault per target at a time",
					i, j, f.Target(), f.Fault, f.At, Duration(f.End()), g.Fault, g.At, Duration(g.End()))
			}
		}
	}
}

func streamNames(sc *Scenario) []string {
	var out []string
	for _, st := range sc.Load {
		out = append(out, st.Name)
	}
	return out
}

func phaseList(sc *Scenario) []string {
	var out []string
	for _, w := range sc.Phases() {
		if !slices.Contains(out, w.Name) {
			out = append(out, w.Name)
		}
	}
	return append(out, reports.PhaseAll)
}

// validBodyTemplate says whether the body is JSON once its placeholders are filled.
func validBodyTemplate(body string) bool {
	filled := strings.NewReplacer("<seq>", "0", "<n>", "1").Replace(body)
	return json.Valid([]byte(filled))
}

func parsePositiveDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("not positive")
	}
	return Duration(d), nil
}
