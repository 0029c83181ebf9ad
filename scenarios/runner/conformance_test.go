package runner

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

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
	decide(&res, nil)
	if res.Verdict != reports.VerdictPass {
		t.Fatalf("no_data, skipped and passed checks: verdict %s (%v), want pass", res.Verdict, res.Reasons)
	}
	res.Conformance.Checks = append(res.Conformance.Checks, failed)
	decide(&res, nil)
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
