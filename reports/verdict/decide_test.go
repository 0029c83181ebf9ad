package verdict

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

func TestDecide(t *testing.T) {
	passSLO := reports.SLOResult{Stream: "r", Phase: "fault", Threshold: "p(99)<50ms", Value: 10, Pass: true}
	failSLO := reports.SLOResult{Stream: "r", Phase: "fault", Threshold: "p(99)<50ms", Value: 90, Pass: false}
	noData := reports.SLOResult{Stream: "r", Phase: "fault", Threshold: "p(99)<50ms", NoData: true}
	okFault := reports.FaultEvent{Fault: "latency", Target: "a->b", AppliedAt: 1, HealedAt: 2}
	tests := []struct {
		name     string
		res      reports.Results
		err      error
		want     string
		expected string
		asExp    bool
	}{
		{"all good", reports.Results{Valid: true, SLOs: []reports.SLOResult{passSLO}, Faults: []reports.FaultEvent{okFault}}, nil, "pass", "pass", true},
		{"slo broken", reports.Results{Valid: true, SLOs: []reports.SLOResult{passSLO, failSLO}}, nil, "fail", "pass", false},
		{"negative control caught", reports.Results{Valid: true, SLOs: []reports.SLOResult{failSLO}}, nil, "fail", "fail", true},
		{"no data never passes", reports.Results{Valid: true, SLOs: []reports.SLOResult{noData}}, nil, "fail", "pass", false},
		{"expectation broken", reports.Results{Valid: true, Expectations: []reports.Expectation{{What: "x", Pass: false}}}, nil, "fail", "pass", false},
		{"invalid measurement cannot pass", reports.Results{Valid: false, InvalidReasons: []string{"lag"}, SLOs: []reports.SLOResult{passSLO}}, nil, "error", "pass", false},
		{"invalid measurement keeps a fail", reports.Results{Valid: false, SLOs: []reports.SLOResult{failSLO}}, nil, "fail", "fail", true},
		{"invalid measurement keeps a measured fail beside no data", reports.Results{Valid: false, SLOs: []reports.SLOResult{noData, failSLO}}, nil, "fail", "fail", true},
		{"invalid measurement: no data alone is no fail", reports.Results{Valid: false, InvalidReasons: []string{"lag"}, SLOs: []reports.SLOResult{passSLO, noData}}, nil, "error", "pass", false},
		{"invalid measurement: an unproven expectation is no fail", reports.Results{Valid: false, InvalidReasons: []string{"lag"},
			Expectations: []reports.Expectation{{What: "containment", NoData: true}}}, nil, "error", "pass", false},
		{"fault not applied", reports.Results{Valid: true, Faults: []reports.FaultEvent{{Fault: "latency", AppliedAt: -1, Error: "boom"}}}, nil, "error", "pass", false},
		{"abort", reports.Results{Valid: true, Abort: &reports.Abort{Condition: "x"}}, nil, "aborted", "pass", false},
		{"run error", reports.Results{Valid: true}, errors.New("lab: start"), "error", "fail", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.res
			res.ExpectedVerdict = tc.expected
			Decide(&res, tc.err)
			if res.Verdict != tc.want || res.AsExpected != tc.asExp {
				t.Fatalf("verdict %q as_expected %v, want %q %v (reasons %v)", res.Verdict, res.AsExpected, tc.want, tc.asExp, res.Reasons)
			}
			if len(res.Reasons) == 0 {
				t.Fatal("a verdict without reasons")
			}
		})
	}
}

// TestDecideConformance: a failed conformance check fails the run and the reason names the
// edge, the policy, the configured value and the observed one; a check with no data or one
// the scenario skipped does not.
func TestDecideConformance(t *testing.T) {
	passSLO := reports.SLOResult{Stream: "r", Phase: "fault", Threshold: "p(99)<50ms", Value: 10, Pass: true}
	failed := reports.ConformanceCheck{Target: "redirect->redis", Policy: "timeout", Configured: "50ms per attempt (+20ms tolerance)",
		Observed: "longest attempt 143.0ms of 2677", Status: reports.ConformanceFail, Violations: 1, Examples: []string{"attempt took 143.0ms"}}
	quiet := []reports.ConformanceCheck{
		{Target: "link->billing", Policy: "retry.backoff", Status: reports.ConformanceNoData, Reason: "not exercised"},
		{Target: "route:create", Policy: "rate_limit", Status: reports.ConformanceSkipped, Reason: "setup bursts"},
		{Target: "link->billing", Policy: "timeout", Status: reports.ConformancePass},
	}
	res := reports.Results{Valid: true, ExpectedVerdict: "pass", SLOs: []reports.SLOResult{passSLO},
		Conformance: &reports.Conformance{Checks: quiet}}
	Decide(&res, nil)
	if res.Verdict != reports.VerdictPass {
		t.Fatalf("no_data, skipped and passed checks: verdict %s (%v), want pass", res.Verdict, res.Reasons)
	}
	res.Conformance.Checks = append(res.Conformance.Checks, failed)
	Decide(&res, nil)
	if res.Verdict != reports.VerdictFail {
		t.Fatalf("a failed conformance check: verdict %s, want fail", res.Verdict)
	}
	why := strings.Join(res.Reasons, "\n")
	for _, w := range []string{"edge redirect->redis", "policy timeout", "configured 50ms per attempt", "observed longest attempt 143.0ms"} {
		if !strings.Contains(why, w) {
			t.Errorf("reasons %q lack %q", why, w)
		}
	}
}

// A halted run is never a pass, even with every SLO held, and never a fail a mutant could be
// killed by: it is invalid, with who halted it in the reasons.
func TestDecideHalted(t *testing.T) {
	for _, expect := range []string{reports.VerdictPass, reports.VerdictFail} {
		res := &reports.Results{Valid: true, ExpectedVerdict: expect, Halt: &reports.Halt{By: "ana", AtS: 12.3},
			SLOs: []reports.SLOResult{{Stream: "redirect", Pass: expect == reports.VerdictPass}}}
		Decide(res, nil)
		if res.Verdict != reports.VerdictHalted || res.Valid || res.AsExpected {
			t.Fatalf("expect %s: verdict %s valid %v as expected %v, want halted, invalid, not as expected", expect, res.Verdict, res.Valid, res.AsExpected)
		}
		if len(res.Reasons) != 1 || !strings.Contains(res.Reasons[0], "halted at 12.3s by ana") {
			t.Errorf("reasons %q", res.Reasons)
		}
		Decide(res, nil) // judged twice (a re-render): the reason is not repeated
		if len(res.InvalidReasons) != 1 {
			t.Errorf("invalid reasons %q", res.InvalidReasons)
		}
		if k := JudgeKill(&reports.Results{Verdict: reports.VerdictPass, Valid: true}, res); k.Outcome != Errored {
			t.Errorf("kill outcome %v, want errored", k.Outcome)
		}
	}
}

// TestMarkInvalid: a reason found after Decide (the explorer's surge landing) invalidates the
// run by Decide's own rule: a pass becomes an error (its "all held" goes), a fail stands, and
// AsExpected follows the verdict.
func TestMarkInvalid(t *testing.T) {
	pass := &reports.Results{Valid: true, ExpectedVerdict: reports.VerdictPass}
	Decide(pass, nil)
	if pass.Verdict != reports.VerdictPass || !pass.AsExpected {
		t.Fatalf("setup: %s %v", pass.Verdict, pass.Reasons)
	}
	MarkInvalid(pass, "surge did not land")
	if pass.Verdict != reports.VerdictError || pass.Valid || pass.AsExpected ||
		len(pass.Reasons) != 1 || pass.Reasons[0] != "measurement invalid: surge did not land" {
		t.Errorf("a pass marked invalid: %s valid %v as expected %v %q", pass.Verdict, pass.Valid, pass.AsExpected, pass.Reasons)
	}
	fail := &reports.Results{Valid: true, ExpectedVerdict: reports.VerdictFail,
		SLOs: []reports.SLOResult{{Stream: "s", Threshold: "errors<1%", Phase: "fault", Value: 0.5}}}
	Decide(fail, nil)
	MarkInvalid(fail, "surge did not land")
	if fail.Verdict != reports.VerdictFail || !fail.AsExpected || len(fail.Reasons) != 2 {
		t.Errorf("a fail marked invalid: %s as expected %v %q", fail.Verdict, fail.AsExpected, fail.Reasons)
	}
	unproven := &reports.Results{Valid: true, ExpectedVerdict: reports.VerdictPass,
		Expectations: []reports.Expectation{{What: "containment", Observed: "unproven: 3 fault-phase calls", NoData: true}}}
	Decide(unproven, nil)
	MarkInvalid(unproven, "surge did not land")
	if unproven.Verdict != reports.VerdictError || unproven.AsExpected {
		t.Errorf("a fail on no data alone marked invalid: %s as expected %v (a false fail: nothing was measured)", unproven.Verdict, unproven.AsExpected)
	}
	MarkInvalid(fail) // nothing to mark
	if !slices.Equal(fail.InvalidReasons, []string{"surge did not land"}) {
		t.Errorf("invalid reasons %q", fail.InvalidReasons)
	}
}
