package runner

import (
	"errors"
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
		{"fault not applied", reports.Results{Valid: true, Faults: []reports.FaultEvent{{Fault: "latency", AppliedAt: -1, Error: "boom"}}}, nil, "error", "pass", false},
		{"abort", reports.Results{Valid: true, Abort: &reports.Abort{Condition: "x"}}, nil, "aborted", "pass", false},
		{"run error", reports.Results{Valid: true}, errors.New("lab: start"), "error", "fail", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.res
			res.ExpectedVerdict = tc.expected
			decide(&res, tc.err)
			if res.Verdict != tc.want || res.AsExpected != tc.asExp {
				t.Fatalf("verdict %q as_expected %v, want %q %v (reasons %v)", res.Verdict, res.AsExpected, tc.want, tc.asExp, res.Reasons)
			}
			if len(res.Reasons) == 0 {
				t.Fatal("a verdict without reasons")
			}
		})
	}
}

// Only an error that comes from an invalid measurement may be repeated; a fail, even with an
// invalid measurement, and an error of the run itself may not.
func TestOnlyInvalidIsRepeated(t *testing.T) {
	passSLO := reports.SLOResult{Stream: "r", Phase: "fault", Threshold: "p(99)<50ms", Value: 1, Pass: true}
	failSLO := reports.SLOResult{Stream: "r", Phase: "fault", Threshold: "p(99)<50ms", Value: 90}
	cases := []struct {
		name string
		res  reports.Results
		err  error
		want bool
	}{
		{"pass turned error by lag", reports.Results{Valid: false, SLOs: []reports.SLOResult{passSLO}}, nil, true},
		{"fail with lag stands", reports.Results{Valid: false, SLOs: []reports.SLOResult{failSLO}}, nil, false},
		{"run error", reports.Results{Valid: true}, errors.New("lab: start"), false},
		{"valid pass", reports.Results{Valid: true, SLOs: []reports.SLOResult{passSLO}}, nil, false},
	}
	for _, tc := range cases {
		res := tc.res
		res.ExpectedVerdict = reports.VerdictPass
		decide(&res, tc.err)
		if got := onlyInvalid(&res); got != tc.want {
			t.Errorf("%s: onlyInvalid = %v, want %v (verdict %s)", tc.name, got, tc.want, res.Verdict)
		}
	}
}
