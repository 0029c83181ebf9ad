package runner

import (
	"fmt"

	"github.com/faultline/faultline/reports"
)

// dataExpect is the scenario's expect.data: bounds on the invariants (nil = must be 0).
type dataExpect struct {
	LostLinks           *int
	DuplicateClicks     *int
	MissingClicks       *int
	LostLinkEvents      *int
	DuplicateLinkEvents *int
}

// dataExpectations turns the data-safety counts into judged expectation lines. Absent bounds
// mean zero: losing acknowledged data is never acceptable by default.
func dataExpectations(ds *reports.DataSafety, exp dataExpect) []reports.Expectation {
	if ds == nil {
		return []reports.Expectation{{What: "data safety", Expected: "checked", Observed: "not checked", Pass: false}}
	}
	bound := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	line := func(what string, got, limit int) reports.Expectation {
		return reports.Expectation{What: what, Expected: fmt.Sprintf("<= %d", limit), Observed: fmt.Sprint(got), Pass: got <= limit}
	}
	out := []reports.Expectation{
		line("data.lost_links", ds.LostLinks, bound(exp.LostLinks)),
		line("data.duplicate_clicks", ds.DuplicateClicks, bound(exp.DuplicateClicks)),
		line("data.missing_clicks", ds.MissingClicks, bound(exp.MissingClicks)),
		line("data.lost_link_events", ds.LostLinkEvents, bound(exp.LostLinkEvents)),
		line("data.duplicate_link_events", ds.DuplicateLinkEvents, bound(exp.DuplicateLinkEvents)),
	}
	if ds.Error != "" {
		out = append(out, reports.Expectation{What: "data.checked", Expected: "invariants readable", Observed: ds.Error, Pass: false})
	}
	return out
}

// decide sets Verdict, Reasons and AsExpected from everything judged so far. The order matters:
// an error or an abort outranks a fail, and nothing that could not be measured can pass.
func decide(res *reports.Results, runErr error) {
	res.Reasons = nil
	switch {
	case runErr != nil:
		res.Verdict = reports.VerdictError
		res.Reasons = append(res.Reasons, runErr.Error())
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
		// A pass needs an honest measurement; a fail stands even when the generator lagged,
		// because the system then saw less load than asked and still failed.
		if !res.Valid {
			for _, r := range res.InvalidReasons {
				res.Reasons = append(res.Reasons, "measurement invalid: "+r)
			}
			if res.Verdict == reports.VerdictPass {
				res.Verdict = reports.VerdictError
			}
		}
	}
	if res.Verdict == reports.VerdictPass && len(res.Reasons) == 0 {
		res.Reasons = []string{fmt.Sprintf("all %d SLOs and %d expectations held", len(res.SLOs), len(res.Expectations))}
	}
	res.AsExpected = res.Verdict == res.ExpectedVerdict
}
