package runner

import (
	"errors"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
)

// Only an error that comes from an invalid measurement may be repeated; a fail, even with an
// invalid measurement, and an error of the run itself may not.
func TestOnlyInvalidIsRepeated(t *testing.T) {
	passSLO := reports.SLOResult{Stream: "r", Phase: "fault", Threshold: "p(99)<50ms", Value: 1, Pass: true}
	failSLO := reports.SLOResult{Stream: "r", Phase: "fault", Threshold: "p(99)<50ms", Value: 90}
	cases := []struct {
		name   string
		expect string
		res    reports.Results
		err    error
		want   bool
	}{
		{"pass turned error by lag", reports.VerdictPass, reports.Results{Valid: false, SLOs: []reports.SLOResult{passSLO}}, nil, true},
		{"fail with lag stands", reports.VerdictPass, reports.Results{Valid: false, SLOs: []reports.SLOResult{failSLO}}, nil, false},
		// A negative control's invalid fail earns no kill: only a repeat can decide it.
		{"negative control's fail with lag is repeated", reports.VerdictFail, reports.Results{Valid: false, SLOs: []reports.SLOResult{failSLO}}, nil, true},
		{"negative control's valid fail stands", reports.VerdictFail, reports.Results{Valid: true, SLOs: []reports.SLOResult{failSLO}}, nil, false},
		{"run error", reports.VerdictPass, reports.Results{Valid: true}, errors.New("lab: start"), false},
		{"valid pass", reports.VerdictPass, reports.Results{Valid: true, SLOs: []reports.SLOResult{passSLO}}, nil, false},
	}
	for _, tc := range cases {
		res := tc.res
		res.ExpectedVerdict = tc.expect
		verdict.Decide(&res, tc.err)
		if got := onlyInvalid(&res); got != tc.want {
			t.Errorf("%s: onlyInvalid = %v, want %v (verdict %s)", tc.name, got, tc.want, res.Verdict)
		}
	}
}

// TestSettleForStopsAtTheExpectedBound: a scenario that expects analytics caught up within d
// is judged failed past d whatever arrives later, so the data check waits d (+1 s), not the
// lab's half minute; without the expectation it waits the run's bound.
func TestSettleForStopsAtTheExpectedBound(t *testing.T) {
	bound := scenarios.MaxCaughtUpWithin
	for _, c := range []struct {
		exp  *verdict.ExpectData
		want time.Duration
	}{
		{nil, bound},
		{&verdict.ExpectData{}, bound},
		{&verdict.ExpectData{CaughtUpWithin: 10 * time.Second}, 11 * time.Second},
		{&verdict.ExpectData{CaughtUpWithin: bound}, bound},
	} {
		if got := settleFor(bound, c.exp); got != c.want {
			t.Errorf("settleFor(%s, %+v) = %s, want %s", bound, c.exp, got, c.want)
		}
	}
}
