package runner

import (
	"fmt"
	"maps"
	"slices"

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
// mean zero: losing acknowledged data is never acceptable by default. A line with nothing to
// check (no acknowledged link, no redirect received) is marked not applicable: it fails
// nothing, and it is not counted as held either.
func dataExpectations(ds *reports.DataSafety, exp dataExpect) []reports.Expectation {
	if ds == nil {
		return []reports.Expectation{{What: "data safety", Expected: "checked", Observed: "not checked", NoData: true}}
	}
	bound := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	line := func(what string, got, limit int, nothing string) reports.Expectation {
		e := reports.Expectation{What: what, Expected: fmt.Sprintf("<= %d", limit), Observed: fmt.Sprint(got), Pass: got <= limit}
		if nothing != "" {
			e.Observed, e.Pass, e.NotApplicable = "nothing to check: "+nothing, true, true
		}
		return e
	}
	noLinks, noRedirects, noClicks := "", "", ""
	if ds.LinksAcked == 0 {
		noLinks = "no link creation was acknowledged"
	}
	if ds.ClicksAcked == 0 {
		noRedirects = "the client received no redirect"
		if ds.ClicksCounted == 0 {
			noClicks = "the client received no redirect and analytics counted no click"
		}
	}
	missing := line("data.missing_clicks", ds.MissingClicks, bound(exp.MissingClicks), noRedirects)
	if ds.MissingClicks > 0 {
		missing.Observed += " (" + missingReason(ds) + ")"
	}
	out := []reports.Expectation{
		line("data.lost_links", ds.LostLinks, bound(exp.LostLinks), noLinks),
		line("data.duplicate_clicks", ds.DuplicateClicks, bound(exp.DuplicateClicks), noClicks),
		missing,
		line("data.lost_link_events", ds.LostLinkEvents, bound(exp.LostLinkEvents), noLinks),
		line("data.duplicate_link_events", ds.DuplicateLinkEvents, bound(exp.DuplicateLinkEvents), noLinks),
	}
	if ds.Error != "" {
		out = append(out, reports.Expectation{What: "data.checked", Expected: "invariants readable", Observed: ds.Error, NoData: true})
	}
	return out
}

// missingReason is what redirect's own ledger says about clicks it never delivered: the
// diagnostic that tells a bounded drop by design from a loss.
func missingReason(ds *reports.DataSafety) string {
	if ds.LedgerError != "" {
		return "redirect's ledger unreadable: " + ds.LedgerError
	}
	causes := ""
	for _, k := range slices.Sorted(maps.Keys(ds.DroppedClicks)) {
		causes += fmt.Sprintf(", %s %d", k, ds.DroppedClicks[k])
	}
	why := "redirect reports dropping" + causes
	if causes == "" {
		why = "redirect reports no drop"
	}
	if !ds.Settled {
		why += "; analytics had not settled, some may be lag"
	}
	return why
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
