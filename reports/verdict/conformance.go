package verdict

import (
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/conformance"
	"github.com/faultline/faultline/system/policy"
)

// JudgeConformance loads the profile the run used and checks every policy of it against what
// the run observed (conformance.Check); a profile that cannot be read fails.
func JudgeConformance(profile string, in conformance.Input) *reports.Conformance {
	p, err := policy.Load(profile)
	if err != nil {
		c := &reports.Conformance{Profile: profile, Tolerances: conformance.ToleranceText()}
		c.Checks = append(c.Checks, reports.ConformanceCheck{Target: "profile", Policy: "load", Configured: profile,
			Observed: err.Error(), Status: reports.ConformanceFail})
		c.Failed = 1
		return c
	}
	return conformance.Check(p, in)
}
