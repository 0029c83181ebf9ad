package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports"
)

func TestCompareLinkEvents(t *testing.T) {
	cases := []struct {
		name               string
		acked              []string
		links              map[string]int
		lost, dup, counted int
		samples            []string
	}{
		{"every acked link once", []string{"a", "b"}, map[string]int{"a": 1, "b": 1}, 0, 0, 2, nil},
		{"an event never arrived", []string{"a", "b", "c"}, map[string]int{"a": 1}, 2, 0, 1, []string{"b", "c"}},
		{"an event applied twice", []string{"a", "b"}, map[string]int{"a": 3, "b": 1}, 0, 2, 4, nil},
		// The creation's answer was lost, but the outbox committed its event: not judged.
		{"unacked code with events", []string{"a"}, map[string]int{"a": 1, "lost-answer": 2}, 0, 0, 1, nil},
		{"nothing acked", nil, map[string]int{"x": 1}, 0, 0, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := &reports.DataSafety{}
			compareLinkEvents(uniqueCodes(c.acked), c.links, ds)
			if ds.LostLinkEvents != c.lost || ds.DuplicateLinkEvents != c.dup || ds.LinkEventsCounted != c.counted {
				t.Errorf("lost %d dup %d counted %d, want %d %d %d", ds.LostLinkEvents, ds.DuplicateLinkEvents, ds.LinkEventsCounted, c.lost, c.dup, c.counted)
			}
			if !slices.Equal(ds.LostLinkEventSamples, c.samples) {
				t.Errorf("samples %v, want %v", ds.LostLinkEventSamples, c.samples)
			}
		})
	}
}

func TestUniqueCodes(t *testing.T) {
	if got := uniqueCodes([]string{"b", "a", "b", "c", "a"}); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Errorf("uniqueCodes = %v, want [b a c]", got)
	}
}

// fakeAnalytics serves redirect's /clicks and analytics' /stats; the link events of
// arriveAfter polls of /stats become visible only then, as an outbox relay draining its
// backlog once NATS is back.
type fakeAnalytics struct {
	links       map[string]int // what /stats shows once everything arrived
	late        []string       // codes whose events show only from poll arriveAfter on
	arriveAfter int32
	noLinks     bool // an analytics that predates the links map
	polls       atomic.Int32
}

func (f *fakeAnalytics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/clicks":
		_ = json.NewEncoder(w).Encode(lab.ClickLedger{Acked: map[string]int{"a": 2}, AckedTotal: 2, Dropped: map[string]int{}})
	case "/stats":
		n := f.polls.Add(1)
		body := map[string]any{"clicks_total": 2, "codes": map[string]int{"a": 2}}
		if !f.noLinks {
			links := map[string]int{}
			for c, k := range f.links {
				if n >= f.arriveAfter || !slices.Contains(f.late, c) {
					links[c] = k
				}
			}
			body["links"] = links
		}
		_ = json.NewEncoder(w).Encode(body)
	default:
		http.NotFound(w, r)
	}
}

func TestCheckEventsWaitsForLinkEvents(t *testing.T) {
	cases := []struct {
		name        string
		fake        *fakeAnalytics
		settle      time.Duration
		wantSettled bool
		wantLost    int
		wantDup     int
		wantErr     bool
	}{
		{"relay drains after two polls", &fakeAnalytics{links: map[string]int{"a": 1, "b": 1}, late: []string{"b"}, arriveAfter: 3}, 5 * time.Second, true, 0, 0, false},
		{"an event never arrives", &fakeAnalytics{links: map[string]int{"a": 1}}, 1200 * time.Millisecond, false, 1, 0, false},
		{"a duplicate", &fakeAnalytics{links: map[string]int{"a": 2, "b": 1}}, 5 * time.Second, true, 0, 1, false},
		{"no links map", &fakeAnalytics{noLinks: true}, 5 * time.Second, false, 0, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.fake)
			defer srv.Close()
			d := &dataChecker{client: srv.Client(), redirect: srv.URL, analytics: srv.URL, settle: c.settle}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ds := &reports.DataSafety{DroppedClicks: map[string]int{}}
			err := d.checkEvents(ctx, []string{"a", "b"}, ds)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if ds.Settled != c.wantSettled || ds.LostLinkEvents != c.wantLost || ds.DuplicateLinkEvents != c.wantDup {
				t.Errorf("settled %v lost %d dup %d, want %v %d %d (after %d polls)", ds.Settled, ds.LostLinkEvents, ds.DuplicateLinkEvents,
					c.wantSettled, c.wantLost, c.wantDup, c.fake.polls.Load())
			}
			if !c.wantErr && (ds.ClicksAcked != 2 || ds.ClicksCounted != 2 || ds.MissingClicks != 0) {
				t.Errorf("clicks acked %d counted %d missing %d, want 2 2 0", ds.ClicksAcked, ds.ClicksCounted, ds.MissingClicks)
			}
		})
	}
}

func TestDataExpectationsLinkEvents(t *testing.T) {
	one := 1
	ds := &reports.DataSafety{LostLinkEvents: 1, DuplicateLinkEvents: 1}
	judged := func(exp dataExpect) map[string]bool {
		out := map[string]bool{}
		for _, e := range dataExpectations(ds, exp) {
			out[e.What] = e.Pass
		}
		return out
	}
	// An omitted bound is 0, like every other data bound.
	got := judged(dataExpect{})
	if got["data.lost_link_events"] || got["data.duplicate_link_events"] {
		t.Errorf("omitted bounds: %v, want both link-event lines to fail", got)
	}
	got = judged(dataExpect{LostLinkEvents: &one, DuplicateLinkEvents: &one})
	if !got["data.lost_link_events"] || !got["data.duplicate_link_events"] {
		t.Errorf("bounds of 1: %v, want both link-event lines to pass", got)
	}
	if _, ok := got["data.lost_links"]; !ok {
		t.Error(fmt.Sprint("the other data lines went missing: ", got))
	}
}
