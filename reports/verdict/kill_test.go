package verdict

import (
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

func killSLO(phase string, pass bool) reports.SLOResult {
	return reports.SLOResult{Stream: "create", Phase: phase, Threshold: "p(99)<350ms", Value: 200, Unit: "ms", Pass: pass}
}

var killPhases = []reports.PhaseWindow{{Name: "baseline", StartS: 0, EndS: 8}, {Name: "fault", StartS: 8, EndS: 18}, {Name: "recovery", StartS: 18, EndS: 26}}

// failed is a valid mutant run that failed with these lines.
func failed(slos []reports.SLOResult, exps ...reports.Expectation) *reports.Results {
	return &reports.Results{Verdict: reports.VerdictFail, Valid: true, Phases: killPhases, SLOs: slos, Expectations: exps}
}

func aborted(cond string, at float64) *reports.Results {
	r := &reports.Results{Verdict: reports.VerdictAborted, Valid: true, Phases: killPhases}
	if cond != "" {
		r.Abort = &reports.Abort{Condition: cond, AtS: at}
	}
	return r
}

// conformanceFailed is a valid mutant run that failed one conformance check.
func conformanceFailed(target, policy, status string) *reports.Results {
	return &reports.Results{Verdict: reports.VerdictFail, Valid: true, Phases: killPhases,
		Conformance: &reports.Conformance{Checks: []reports.ConformanceCheck{{Target: target, Policy: policy, Configured: "50ms..2s", Observed: "3 gaps under 50ms", Status: status}}}}
}

// withProfile sets the profile r ran with (a profile mutant's; the own run's is "").
func withProfile(r *reports.Results, profile string) *reports.Results {
	r.Profile = profile
	return r
}

// spansLost marks r invalid as the runner does when its services (sdk) or the lab (lab)
// dropped spans.
func spansLost(r *reports.Results, sdk, lab int) *reports.Results {
	r.Telemetry = &reports.TelemetryHealth{SpansDroppedBySDK: sdk, SpansDroppedByLab: lab}
	r.Valid, r.InvalidReasons = false, []string{SpanLossInvalid(r.Telemetry)}
	return r
}

func TestJudgeKill(t *testing.T) {
	own := &reports.Results{Verdict: reports.VerdictPass, Valid: true, Phases: killPhases,
		Conformance: &reports.Conformance{Checks: []reports.ConformanceCheck{
			{Target: "link->billing", Policy: "retry.backoff", Configured: "50ms..2s", Status: reports.ConformancePass},
			{Target: "link->billing", Policy: "retry.attempts", Configured: "50ms..2s", Status: reports.ConformanceNoData}}},
		SLOs: []reports.SLOResult{killSLO("baseline", true), killSLO("fault", true)},
		Expectations: []reports.Expectation{{What: "data.lost_links", Expected: "<= 0", Observed: "0", Pass: true},
			{What: "breaker a->b opens", Expected: "within 3s of the fault", Observed: "opened after 0.4s", Pass: true},
			{What: "blast radius contained", Expected: "affected services within [] or the origin", Observed: "affected: []", Pass: true},
			{What: "unaffected: redirect", Expected: "not affected", Observed: "not affected: within thresholds", Pass: true},
			{What: "user impact: create", Expected: "<=1%", Observed: "0.00%", Pass: true}}}
	ownAborted := &reports.Results{Verdict: reports.VerdictAborted, Valid: true, Phases: killPhases,
		Abort: &reports.Abort{Condition: "redirect errors>50% for 5s", AtS: 14}}
	contained := reports.Expectation{What: "blast radius contained", Expected: "affected services within [] or the origin",
		Observed: "affected: [link]; outside the list: [link]"}
	unproven := reports.Expectation{What: "blast radius contained", Expected: "affected services within [] or the origin",
		Observed: "affected: []; unproven (too few fault-phase calls to judge): [link]: containment not proven", NoData: true}
	cases := []struct {
		name string
		own  *reports.Results
		mut  *reports.Results
		want string
		by   []string
	}{
		{"fault SLO broke", own, failed([]reports.SLOResult{killSLO("baseline", true), killSLO("fault", false)}), Caught, []string{BySLO}},
		{"expectation broke", own, failed(nil, reports.Expectation{What: "data.lost_links", Expected: "<= 0", Observed: "3"}), Caught, []string{ByData}},
		{"blast radius widened", own, failed([]reports.SLOResult{killSLO("fault", false)}, contained), Caught, []string{BySLO, ByBlast}},
		{"unaffected service affected", own, failed(nil, reports.Expectation{What: "unaffected: redirect", Expected: "not affected", Observed: "affected: error rate"}), Caught, []string{ByBlast}},
		{"user impact broke", own, failed(nil, reports.Expectation{What: "user impact: create", Expected: "<=1%", Observed: "99.50%"}), Caught, []string{ByImpact}},
		{"only the baseline broke", own, failed([]reports.SLOResult{killSLO("baseline", false), killSLO("fault", true)}), Wrong, nil},
		{"a check the own run failed too", own, failed(nil, reports.Expectation{What: "data.missing_clicks", Expected: "<= 0", Observed: "2"}), Wrong, nil},
		{"a policy not applied as configured", own, conformanceFailed("link->billing", "retry.backoff", reports.ConformanceFail), Caught, []string{ByConformance}},
		{"a profile mutant: a policy it kept, misapplied, is no kill", own, withProfile(conformanceFailed("link->billing", "retry.backoff", reports.ConformanceFail), "no-budget"), Wrong, nil},
		{"a conformance check the own run had no data for", own, conformanceFailed("link->billing", "retry.attempts", reports.ConformanceFail), Wrong, nil},
		{"passed", own, &reports.Results{Verdict: reports.VerdictPass, Valid: true}, Missed, nil},
		{"error", own, &reports.Results{Verdict: reports.VerdictError, Reasons: []string{"runner: start the system"}}, Errored, nil},
		// A line with nothing to check in the own run (no link acknowledged) held nothing.
		{"not applicable in the own run is no kill", &reports.Results{Verdict: reports.VerdictPass, Valid: true, Phases: killPhases,
			Expectations: []reports.Expectation{{What: "data.lost_links", Expected: "<= 0", Observed: "nothing to check", Pass: true, NotApplicable: true}}},
			failed(nil, reports.Expectation{What: "data.lost_links", Expected: "<= 0", Observed: "3"}), Wrong, nil},
		{"no data is no kill", own, failed([]reports.SLOResult{{Stream: "create", Phase: "fault", Threshold: "p(99)<350ms", NoData: true}}), Wrong, nil},
		// Removing a breaker leaves no breaker to observe: that proves nothing about behaviour.
		{"a mechanism that is gone is no kill", own, failed(nil, reports.Expectation{What: "breaker a->b opens", Expected: "within 3s of the fault", Observed: "no breaker state observed on a->b", NoData: true}), Wrong, nil},
		// Containment that could not be proven (a service went quiet) proves nothing either.
		{"unproven containment is no kill", own, failed(nil, unproven), Wrong, nil},
		// A starved load generator (or a fault applied late) makes the measurement invalid:
		// the fail stands as a verdict but is no kill, whatever broke.
		{"invalid measurement is no kill", own, func() *reports.Results {
			r := failed([]reports.SLOResult{killSLO("fault", false)}, contained)
			r.Valid, r.InvalidReasons = false, []string{"load generator: send lag p99 900 ms"}
			return r
		}(), Errored, nil},
		// Spans the services lost leave the client's side measured: an SLO still kills, the
		// blast radius (read from the spans) is not credited.
		{"spans lost by the services: the SLO kills", own, spansLost(failed([]reports.SLOResult{killSLO("fault", false)}, contained), 8, 0), Caught, []string{BySLO}},
		{"spans lost by the services: the blast radius alone is no kill", own, spansLost(failed(nil, contained), 8, 0), Errored, nil},
		{"spans lost by the services: a conformance failure is no kill", own, spansLost(conformanceFailed("link->billing", "retry.backoff", reports.ConformanceFail), 3, 0), Errored, nil},
		{"spans lost by the services: data still kills", own, spansLost(failed(nil, reports.Expectation{What: "data.lost_links", Expected: "<= 0", Observed: "3"}), 2, 0), Caught, []string{ByData}},
		// Spans the lab dropped say the lab was overloaded: nothing it measured counts.
		{"spans dropped by the lab: no kill at all", own, spansLost(failed([]reports.SLOResult{killSLO("fault", false)}), 0, 4), Errored, nil},
		{"spans lost and a starved generator: no kill", own, func() *reports.Results {
			r := spansLost(failed([]reports.SLOResult{killSLO("fault", false)}), 8, 0)
			r.InvalidReasons = append(r.InvalidReasons, "load generator: send lag p99 900 ms")
			return r
		}(), Errored, nil},
		{"an own run that proves nothing", &reports.Results{Verdict: reports.VerdictError}, failed([]reports.SLOResult{killSLO("fault", false)}), Errored, nil},
		{"novel abort in the fault", own, aborted("redirect errors>50% for 5s", 14), Caught, []string{ByAbort}},
		{"abort that stopped the own run too", ownAborted, aborted("redirect errors>50% for 5s", 13), Errored, nil},
		{"another condition than the own run's", ownAborted, aborted("redirect p(99)>5s for 5s", 13), Caught, []string{ByAbort}},
		{"abort in the baseline", own, aborted("redirect errors>50% for 5s", 6), Errored, nil},
		{"abort on no condition", own, aborted("", 0), Errored, nil},
		{"invalid abort", own, func() *reports.Results { r := aborted("redirect errors>50% for 5s", 14); r.Valid = false; return r }(), Errored, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := JudgeKill(c.own, c.mut)
			if v.Outcome != c.want || !slices.Equal(v.By, c.by) {
				t.Errorf("got %s by %v (%v), want %s by %v", v.Outcome, v.By, v.Because, c.want, c.by)
			}
			if len(v.Because) == 0 {
				t.Errorf("no reason given")
			}
			if c.mut.Telemetry != nil && !slices.ContainsFunc(v.Because, func(s string) bool { return strings.Contains(s, "spans lost") }) {
				t.Errorf("a run with spans lost does not say so: %v", v.Because)
			}
		})
	}
}
