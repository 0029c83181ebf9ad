package verdict

import (
	"fmt"
	"testing"

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
