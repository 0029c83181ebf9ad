package verdict

import (
	"fmt"
	"slices"

	"github.com/faultline/faultline/reports"
)

// Decide sets Verdict, Reasons and AsExpected from everything judged so far. The order matters:
// an error or an abort outranks a fail, and nothing that could not be measured can pass.
func Decide(res *reports.Results, runErr error) {
	res.Reasons = nil
	switch {
	case runErr != nil:
		res.Verdict = reports.VerdictError
		res.Reasons = append(res.Reasons, runErr.Error())
	case res.Halt != nil:
		// A halted run measured neither the scenario nor a failure of the system: never a
		// pass, never a fail (a kill), whatever its SLOs said up to the halt.
		res.Verdict = reports.VerdictHalted
		res.Valid = false
		why := fmt.Sprintf("halted at %.1fs by %s: load stopped and every fault healed early", res.Halt.AtS, res.Halt.By)
		if !slices.Contains(res.InvalidReasons, why) {
			res.InvalidReasons = append(res.InvalidReasons, why)
		}
		res.Reasons = append(res.Reasons, "measurement invalid: "+why)
	case res.Abort != nil:
		res.Verdict = reports.VerdictAborted
		res.Reasons = append(res.Reasons, fmt.Sprintf("aborted at %.1fs: %s", res.Abort.AtS, res.Abort.Condition))
	default:
		res.Verdict = reports.VerdictPass
		for _, f := range res.Faults {
			if f.Error != "" || f.AppliedAt < 0 {
				res.Verdict = reports.VerdictError
				res.Reasons = append(res.Reasons, fmt.Sprintf("fault %s on %s was not applied as planned: %s", f.Fault, f.Target, f.Error))
			}
		}
		if res.Verdict == reports.VerdictError {
			break
		}
		for _, s := range res.SLOs {
			if !s.Pass {
				res.Verdict = reports.VerdictFail
				what := fmt.Sprintf("SLO %s %s in %s: measured %.4g %s", s.Stream, s.Threshold, s.Phase, s.Value, s.Unit)
				if s.NoData {
					what = fmt.Sprintf("SLO %s %s in %s: no requests in that phase", s.Stream, s.Threshold, s.Phase)
				}
				res.Reasons = append(res.Reasons, what)
			}
		}
		for _, e := range res.Expectations {
			if !e.Pass {
				res.Verdict = reports.VerdictFail
				res.Reasons = append(res.Reasons, fmt.Sprintf("expected %s %s, observed %s", e.What, e.Expected, e.Observed))
			}
		}
		if c := res.Conformance; c != nil {
			for _, ch := range c.Checks {
				if ch.Status == reports.ConformanceFail {
					res.Verdict = reports.VerdictFail
					res.Reasons = append(res.Reasons, ch.FailReason())
				}
			}
		}
		if !res.Valid {
			invalidate(res, res.InvalidReasons)
		}
	}
	if res.Verdict == reports.VerdictPass && len(res.Reasons) == 0 {
		held, na := 0, 0
		for _, e := range res.Expectations {
			if e.NotApplicable {
				na++
			} else {
				held++
			}
		}
		why := fmt.Sprintf("all %d SLOs and %d expectations held", len(res.SLOs), held)
		if na > 0 {
			why += fmt.Sprintf(" (%d had nothing to check)", na)
		}
		res.Reasons = []string{why}
	}
	res.AsExpected = res.Verdict == res.ExpectedVerdict
}

// MarkInvalid records reasons, found after Decide, why a run's measurement is invalid (the
// explorer's surge landing rule), by Decide's own rule: nothing unmeasured passes.
func MarkInvalid(res *reports.Results, why ...string) {
	if len(why) == 0 {
		return
	}
	res.Valid = false
	res.InvalidReasons = append(res.InvalidReasons, why...)
	if res.Verdict == reports.VerdictPass {
		res.Reasons = nil // no longer "all held"
	}
	invalidate(res, why)
	res.AsExpected = res.Verdict == res.ExpectedVerdict
}

// invalidate: a pass needs an honest measurement; a measured fail stands even when the
// generator lagged, because the system then saw less load than asked and still failed. A fail
// resting only on checks that had nothing to judge (no requests in a phase, too few calls to
// prove containment) is no such evidence: on an invalid run it is an error, as a pass is.
func invalidate(res *reports.Results, why []string) {
	for _, r := range why {
		res.Reasons = append(res.Reasons, "measurement invalid: "+r)
	}
	if res.Verdict == reports.VerdictPass || res.Verdict == reports.VerdictFail && !measuredFailure(res) {
		res.Verdict = reports.VerdictError
	}
}

// measuredFailure reports whether some failed check measured a failure rather than a lack of
// data: an SLO or expectation broken on data, or a conformance check failed.
func measuredFailure(res *reports.Results) bool {
	for _, s := range res.SLOs {
		if !s.Pass && !s.NoData {
			return true
		}
	}
	for _, e := range res.Expectations {
		if !e.Pass && !e.NoData {
			return true
		}
	}
	if c := res.Conformance; c != nil {
		for _, ch := range c.Checks {
			if ch.Status == reports.ConformanceFail {
				return true
			}
		}
	}
	return false
}
