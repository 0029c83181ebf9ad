package runner

import (
	"errors"
	"testing"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
)

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
		verdict.Decide(&res, tc.err)
		if got := onlyInvalid(&res); got != tc.want {
			t.Errorf("%s: onlyInvalid = %v, want %v (verdict %s)", tc.name, got, tc.want, res.Verdict)
		}
	}
}
