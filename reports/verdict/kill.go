package verdict

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
)

// Outcomes of one scenario × mutant run: verdict power, whether a mutant's run of a scenario
// kills it (the kill rules of faultline mutate).
const (
	Caught  = "caught"
	Missed  = "MISSED" // the mutant passed
	Wrong   = "WRONG"  // failed, but for no reason the protection guards
	Errored = "ERROR"  // error, invalid measurement, or an abort that proves nothing
)

// Kinds of check a kill is credited to.
const (
	BySLO       = "SLO"
	ByBlast     = "blast radius" // contained_to, unaffected, max_affected_services
	ByImpact    = "user impact"
	ByMechanism = "mechanisms"
	ByData      = "data"
	ByAbort     = "abort"
	// ByConformance: a policy the profile configures was not applied as configured
	// (reports/conformance), measured from the spans.
	ByConformance = "conformance"
)

// Kill is one mutant run judged against the scenario's run with its own profile.
type Kill struct {
	Outcome string
	// By lists the kinds of the checks the kill is credited to, each once, in the order
	// first met (only for Caught).
	By []string
	// Because lists the checks the kill is credited to, or why the run is no kill.
	Because []string
}

// JudgeKill decides whether mut (the scenario run with a mutant profile) kills the scenario, given
// own (the same scenario with its own profile). Neither run proves anything when its
// measurement is invalid or its verdict is error — except that a mutant run whose services
// lost spans (TracesOnlyInvalid) still measured the client's side, so its checks read from
// the client (SLOs, user impact, data) may earn the kill and those read from spans may not.
// A failed mutant run is a kill only when some
// check (an SLO, an expectation or, for a code mutant, a policy conformance check) that held
// in the own run failed, measured: not a baseline SLO (before the fault the
// protection has nothing to guard against) and not a no-data line (without a breaker there is
// no breaker to observe). An aborted mutant run is a kill only when it stopped on an
// abort_when condition during or after the fault, and the own run did not stop on that one.
func JudgeKill(own, mut *reports.Results) Kill {
	tracesLost := TracesOnlyInvalid(mut)
	switch {
	case mut.Verdict == reports.VerdictError:
		return Kill{Outcome: Errored, Because: append([]string{"verdict error"}, mut.Reasons...)}
	case !mut.Valid && !tracesLost:
		return Kill{Outcome: Errored, Because: append([]string{"verdict " + mut.Verdict + " from an invalid measurement"}, prefixed("measurement invalid: ", mut.InvalidReasons)...)}
	case mut.Verdict == reports.VerdictPass:
		return Kill{Outcome: Missed, Because: []string{"every check held"}}
	case own.Verdict == reports.VerdictError || !own.Valid:
		return Kill{Outcome: Errored, Because: []string{"the own-profile run proves nothing to compare with (verdict " + own.Verdict + ", valid " + fmt.Sprint(own.Valid) + ")"}}
	case mut.Verdict == reports.VerdictAborted:
		return judgeAbort(own, mut)
	case mut.Verdict != reports.VerdictFail:
		return Kill{Outcome: Errored, Because: []string{"verdict " + mut.Verdict}}
	}
	held := map[string]bool{}
	for _, c := range checks(own) {
		if c.pass {
			held[c.key] = true
		}
	}
	var v Kill
	var unrelated []string
	// Spans lost by the services leave the client's measurement whole: what the load
	// generator sent and got back (SLOs, user impact) and the data counts still earn a kill;
	// what is read from the spans (blast radius, mechanisms, conformance) does not.
	// A profile mutant runs the own run's code with a policy removed: a policy it kept that
	// failed its conformance check was misapplied by that same code, or timed by a machine
	// the removal overloaded — neither is the removed protection's doing. Only a code mutant
	// (same profile, patched code) earns a kill from conformance.
	profileMutant := own.Profile != mut.Profile
	for _, c := range checks(mut) {
		switch {
		case c.pass:
		case tracesLost && c.fromTraces():
			unrelated = append(unrelated, "not credited, spans lost: "+c.text)
		case profileMutant && c.kind == ByConformance:
			unrelated = append(unrelated, "not credited, a policy the mutant kept: "+c.text)
		case held[c.key] && !c.baseline && !c.noData:
			v.Because = append(v.Because, c.text)
			if !slices.Contains(v.By, c.kind) {
				v.By = append(v.By, c.kind)
			}
		default:
			unrelated = append(unrelated, c.text)
		}
	}
	if len(v.Because) == 0 {
		if tracesLost {
			return Kill{Outcome: Errored, Because: append(append([]string{"no failing check measured from the client side"},
				prefixed("measurement invalid: ", mut.InvalidReasons)...), unrelated...)}
		}
		return Kill{Outcome: Wrong, Because: append([]string{"no failing check attributable to the mutant"}, unrelated...)}
	}
	if tracesLost {
		v.Because = append(v.Because, prefixed("trace-derived checks not credited, measurement invalid: ", mut.InvalidReasons)...)
	}
	v.Outcome = Caught
	return v
}

// TracesOnlyInvalid says whether all that made res's measurement invalid is spans its
// services lost (an exporter's queue overflowed while the fault starved it, a process killed
// before its last export): the client's side — what the load generator sent and got back, the
// data counts — was measured whole. Spans the lab itself dropped or refused say the lab was
// overloaded, and then nothing it measured is trusted.
func TracesOnlyInvalid(res *reports.Results) bool {
	t := res.Telemetry
	if res.Valid || t == nil || t.SpansDroppedByLab > 0 || t.SpansRejected > 0 || t.ExportsRefused > 0 {
		return false
	}
	why := SpanLossInvalid(t)
	if why == "" || len(res.InvalidReasons) == 0 {
		return false
	}
	for _, r := range res.InvalidReasons {
		if r != why {
			return false
		}
	}
	return true
}

// judgeAbort credits an abort that is the mutant's doing: an abort_when condition that fired
// once the fault was on, and that did not stop the own run.
func judgeAbort(own, mut *reports.Results) Kill {
	a := mut.Abort
	switch {
	case a == nil || a.Condition == "":
		return Kill{Outcome: Errored, Because: append([]string{"aborted, but on no abort_when condition"}, mut.Reasons...)}
	case own.Abort != nil && own.Abort.Condition == a.Condition:
		return Kill{Outcome: Errored, Because: []string{fmt.Sprintf("aborted on %q, which stopped the own-profile run too", a.Condition)}}
	case reports.PhaseAt(mut.Phases, time.Duration(a.AtS*float64(time.Second))) == reports.PhaseBaseline:
		return Kill{Outcome: Errored, Because: []string{fmt.Sprintf("aborted on %q at %.1fs, in the baseline: before any fault", a.Condition, a.AtS)}}
	}
	return Kill{Outcome: Caught, By: []string{ByAbort},
		Because: []string{fmt.Sprintf("abort_when %q fired at %.1fs (not in the own-profile run)", a.Condition, a.AtS)}}
}

// check is one judged line of a run: an SLO or an expectation.
type check struct {
	key, text, kind        string
	pass, baseline, noData bool
}

func checks(res *reports.Results) []check {
	var out []check
	for _, s := range res.SLOs {
		text := fmt.Sprintf("SLO %s %s in %s: measured %.4g %s", s.Stream, s.Threshold, s.Phase, s.Value, s.Unit)
		if s.NoData {
			text = fmt.Sprintf("SLO %s %s in %s: no requests", s.Stream, s.Threshold, s.Phase)
		}
		out = append(out, check{key: "slo|" + s.Stream + "|" + s.Phase + "|" + s.Threshold, text: text, kind: BySLO,
			pass: s.Pass && !s.NoData, baseline: s.Phase == reports.PhaseBaseline, noData: s.NoData})
	}
	for _, e := range res.Expectations {
		out = append(out, check{key: "expect|" + e.What + "|" + e.Expected, kind: kindOf(e.What), pass: e.Pass && !e.NoData && !e.NotApplicable, noData: e.NoData,
			text: fmt.Sprintf("expected %s %s, observed %s", e.What, e.Expected, e.Observed)})
	}
	if c := res.Conformance; c != nil {
		for _, k := range c.Checks {
			// A skipped check held nothing; one with no data observed nothing.
			out = append(out, check{key: "conformance|" + k.Target + "|" + k.Policy + "|" + k.Configured, kind: ByConformance,
				pass: k.Status == reports.ConformancePass, noData: k.Status == reports.ConformanceNoData || k.Status == reports.ConformanceSkipped,
				text: fmt.Sprintf("conformance %s %s: configured %s, observed %s", k.Target, k.Policy, k.Configured, k.Observed)})
		}
	}
	return out
}

// fromTraces says whether the check is read from the spans: the blast radius, the
// mechanisms (retries, breakers, fallbacks) and policy conformance. SLOs and user impact come
// from the load generator's samples, data from the client's tally and the stores' counts.
func (c check) fromTraces() bool {
	return c.kind == ByBlast || c.kind == ByMechanism || c.kind == ByConformance
}

func kindOf(what string) string {
	switch {
	case strings.HasPrefix(what, WhatUserImpact):
		return ByImpact
	case BlastLine(what):
		return ByBlast
	case strings.HasPrefix(what, "data"):
		return ByData
	}
	return ByMechanism
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}
