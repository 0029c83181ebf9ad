package verdict

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// TestDataNotCheckedIsNoData: data safety that was never checked, or could not be read, fails
// as no data, so faultline mutate credits no kill to it.
func TestDataNotCheckedIsNoData(t *testing.T) {
	for name, ds := range map[string]*reports.DataSafety{"not checked": nil, "unreadable": {Error: "analytics: connection refused"}} {
		var found bool
		for _, e := range JudgeData(ds, nil) {
			if e.What == "data safety" || e.What == "data.checked" {
				found = true
				if e.Pass || !e.NoData {
					t.Errorf("%s: %+v, want a no-data fail", name, e)
				}
			}
		}
		if !found {
			t.Errorf("%s: no line says the data went unchecked", name)
		}
	}
}

func TestJudgeDataLinkEvents(t *testing.T) {
	one := 1
	ds := &reports.DataSafety{LinksAcked: 2, LostLinkEvents: 1, DuplicateLinkEvents: 1}
	judged := func(exp *ExpectData) map[string]bool {
		out := map[string]bool{}
		for _, e := range JudgeData(ds, exp) {
			out[e.What] = e.Pass
		}
		return out
	}
	// An omitted bound is 0, like every other data bound.
	got := judged(nil)
	if got["data.lost_link_events"] || got["data.duplicate_link_events"] {
		t.Errorf("omitted bounds: %v, want both link-event lines to fail", got)
	}
	got = judged(&ExpectData{LostLinkEvents: &one, DuplicateLinkEvents: &one})
	if !got["data.lost_link_events"] || !got["data.duplicate_link_events"] {
		t.Errorf("bounds of 1: %v, want both link-event lines to pass", got)
	}
	// Not settled, a lost event may be a late one: the line says so.
	for _, e := range JudgeData(&reports.DataSafety{LinksAcked: 2, LostLinkEvents: 1}, nil) {
		if e.What == "data.lost_link_events" && !strings.Contains(e.Observed, "lost, or later") {
			t.Errorf("unsettled lost events: %q, want it to say they may be late", e.Observed)
		}
	}
	if _, ok := got["data.lost_links"]; !ok {
		t.Error(fmt.Sprint("the other data lines went missing: ", got))
	}
}

// TestUnverifiedLinksAreNoData: links that could not be read back fail data.lost_links as no
// data (no kill is credited to it); with a loss seen as well it is a plain fail.
func TestUnverifiedLinksAreNoData(t *testing.T) {
	lostLine := func(ds *reports.DataSafety) reports.Expectation {
		for _, e := range JudgeData(ds, nil) {
			if e.What == "data.lost_links" {
				return e
			}
		}
		t.Fatal("no data.lost_links line")
		return reports.Expectation{}
	}
	e := lostLine(&reports.DataSafety{LinksAcked: 120, UnverifiedLinks: 120})
	if e.Pass || !e.NoData || e.Observed != "0; 120 more could not be read back (unverified)" {
		t.Errorf("all unverified: %+v, want a no-data fail saying so", e)
	}
	e = lostLine(&reports.DataSafety{LinksAcked: 120, LostLinks: 2, UnverifiedLinks: 5})
	if e.Pass || e.NoData {
		t.Errorf("2 lost and 5 unverified: %+v, want a plain fail", e)
	}
}

// TestCaughtUpWithin: a system that loses nothing but counts late fails caught_up_within;
// one that never caught up fails it; an unreadable analytics is no data, nothing to count is
// not applicable; without the bound there is no such line.
func TestCaughtUpWithin(t *testing.T) {
	line := func(ds *reports.DataSafety, within time.Duration) (reports.Expectation, bool) {
		for _, e := range JudgeData(ds, &ExpectData{CaughtUpWithin: within}) {
			if e.What == "data.caught_up_within" {
				return e, true
			}
		}
		return reports.Expectation{}, false
	}
	full := reports.DataSafety{LinksAcked: 10, ClicksAcked: 50, ClicksCounted: 50, Settled: true}
	for _, c := range []struct {
		name                        string
		edit                        func(*reports.DataSafety)
		pass, noData, notApplicable bool
	}{
		{"in time", func(d *reports.DataSafety) { d.CaughtUpS = 3.2 }, true, false, false},
		{"late", func(d *reports.DataSafety) { d.CaughtUpS = 31 }, false, false, false},
		{"never caught up", func(d *reports.DataSafety) { d.Settled, d.MissingClicks = false, 4 }, false, false, false},
		{"analytics unreadable", func(d *reports.DataSafety) { d.Settled, d.Error = false, "data: read analytics counts: refused" }, false, true, false},
		{"nothing to count", func(d *reports.DataSafety) { d.LinksAcked, d.ClicksAcked, d.ClicksCounted, d.CaughtUpS = 0, 0, 0, 0.6 }, true, false, true},
	} {
		ds := full
		c.edit(&ds)
		e, ok := line(&ds, 10*time.Second)
		if !ok {
			t.Fatalf("%s: no data.caught_up_within line", c.name)
		}
		if e.Pass != c.pass || e.NoData != c.noData || e.NotApplicable != c.notApplicable {
			t.Errorf("%s: %+v, want pass %v, no data %v, not applicable %v", c.name, e, c.pass, c.noData, c.notApplicable)
		}
	}
	if _, ok := line(&full, 0); ok {
		t.Error("a line without the bound: caught_up_within is judged only when asked")
	}
}
