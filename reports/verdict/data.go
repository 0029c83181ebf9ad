package verdict

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/faultline/faultline/reports"
)

// JudgeData turns the data-safety counts into judged expectation lines against exp (nil: every
// bound zero). Absent bounds mean zero: losing acknowledged data is never acceptable by default. A line with nothing to
// check (no acknowledged link, no redirect received) is marked not applicable: it fails
// nothing, and it is not counted as held either.
func JudgeData(ds *reports.DataSafety, exp *ExpectData) []reports.Expectation {
	if exp == nil {
		exp = &ExpectData{}
	}
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
	lost := line("data.lost_links", ds.LostLinks, bound(exp.LostLinks), noLinks)
	if ds.UnverifiedLinks > 0 && noLinks == "" {
		// Unreadable is not lost, and not safe either: the line cannot hold, and with no
		// loss seen it is no data (which earns no kill).
		lost.Observed += fmt.Sprintf("; %d more could not be read back (unverified)", ds.UnverifiedLinks)
		lost.Pass = false
		lost.NoData = ds.LostLinks <= bound(exp.LostLinks)
	}
	lostEvents := line("data.lost_link_events", ds.LostLinkEvents, bound(exp.LostLinkEvents), noLinks)
	if ds.LostLinkEvents > 0 && !ds.Settled {
		lostEvents.Observed += " (analytics had not settled when the wait ran out: lost, or later than it)"
	}
	out := []reports.Expectation{
		lost,
		line("data.duplicate_clicks", ds.DuplicateClicks, bound(exp.DuplicateClicks), noClicks),
		missing,
		lostEvents,
		line("data.duplicate_link_events", ds.DuplicateLinkEvents, bound(exp.DuplicateLinkEvents), noLinks),
	}
	if exp.CaughtUpWithin > 0 {
		out = append(out, caughtUp(ds, exp.CaughtUpWithin, noLinks != "" && noRedirects != ""))
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

// caughtUp judges how soon analytics had everything after the load ended: a system that
// loses nothing but counts a partition's events half a minute late fails it. Never caught up
// within the wait fails too (the counts' own lines say what was missing); a data check that
// could not read analytics, or had nothing to count, is no data.
func caughtUp(ds *reports.DataSafety, within time.Duration, nothing bool) reports.Expectation {
	e := reports.Expectation{What: "data.caught_up_within",
		Expected: fmt.Sprintf("analytics has every acknowledged click and link event within %s of the load's end", within)}
	switch {
	case ds.Error != "":
		e.Observed, e.NoData = "not checked: "+ds.Error, true
	case nothing:
		e.Observed, e.Pass, e.NotApplicable = "nothing to check: no link acknowledged, no redirect received", true, true
	case !ds.Settled:
		e.Observed = "not caught up when the wait for analytics ran out"
	default:
		e.Observed = fmt.Sprintf("caught up %.1f s after the load ended", ds.CaughtUpS)
		e.Pass = ds.CaughtUpS <= within.Seconds()
	}
	return e
}
