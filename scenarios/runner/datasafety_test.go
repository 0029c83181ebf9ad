package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios/load"
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
			links := []load.Link{{Code: "a"}, {Code: "b"}}
			err := d.checkEvents(ctx, links, map[string]load.Clicks{"a": {Redirected: 2}}, ds)
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

// TestClickGaps judges clicks per code against what the client received.
func TestClickGaps(t *testing.T) {
	type cl = load.Clicks
	cases := []struct {
		name          string
		client        map[string]load.Clicks
		counted       map[string]int
		missing, dups int
		gaps          []string
	}{
		{"every redirect counted once", map[string]cl{"a": {Redirected: 3}, "b": {Redirected: 1}}, map[string]int{"a": 3, "b": 1}, 0, 0, nil},
		// The client got its 302s, but redirect never enqueued a click: whatever its own
		// ledger says, the clicks are missing.
		{"a redirect that never enqueues a click", map[string]cl{"a": {Redirected: 5}, "b": {Redirected: 2}}, map[string]int{}, 7, 0, []string{"a", "b"}},
		// a's unknown outcomes (publish errors, timeouts) may explain a surplus on a, never b's.
		{"unknowns on one code do not cancel duplicates on another", map[string]cl{"a": {Redirected: 3, Unknown: 2}, "b": {Redirected: 2}}, map[string]int{"a": 3, "b": 4}, 0, 2, []string{"b"}},
		{"unknown outcomes explain a surplus on their own code", map[string]cl{"a": {Redirected: 3, Unknown: 2}}, map[string]int{"a": 5}, 0, 0, nil},
		{"unknown outcomes never excuse a loss", map[string]cl{"a": {Redirected: 3, Unknown: 2}}, map[string]int{"a": 2}, 1, 0, []string{"a"}},
		// b's surplus must not hide a's loss by netting the totals.
		{"one code's surplus does not hide another's loss", map[string]cl{"a": {Redirected: 2}, "b": {Redirected: 2}}, map[string]int{"a": 0, "b": 4}, 2, 2, []string{"a", "b"}},
		{"a code counted that the client never redirected", map[string]cl{"a": {Redirected: 1}}, map[string]int{"a": 1, "z": 2}, 0, 2, []string{"z"}},
		{"nothing at all", nil, nil, 0, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			missing, dups, gaps := clickGaps(c.client, c.counted)
			if missing != c.missing || dups != c.dups || !slices.Equal(gaps, c.gaps) {
				t.Errorf("missing %d duplicates %d gaps %v, want %d %d %v", missing, dups, gaps, c.missing, c.dups, c.gaps)
			}
			ds := &reports.DataSafety{}
			compareClicks(c.client, c.counted, ds)
			if ds.MissingClicks != c.missing || ds.DuplicateClicks != c.dups || len(ds.ClickSamples) != len(c.gaps) {
				t.Errorf("compareClicks: missing %d duplicates %d samples %v", ds.MissingClicks, ds.DuplicateClicks, ds.ClickSamples)
			}
		})
	}
}

// ledgerServer is a redirect whose ledger vouches for every click it acknowledged and an
// analytics that counted exactly those: the old check compared the two and passed.
type ledgerServer struct {
	ledger  *lab.ClickLedger // nil: /clicks answers 500 (redirect down or restarted)
	counted map[string]int
}

func (f *ledgerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/clicks":
		if f.ledger == nil {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(f.ledger)
	case "/stats":
		_ = json.NewEncoder(w).Encode(map[string]any{"codes": f.counted, "links": map[string]int{}})
	default:
		http.NotFound(w, r)
	}
}

// TestClicksJudgedAgainstTheClient: the reference is what the client received, not redirect's
// ledger. A redirect whose ledger agrees with analytics but lost clicks the client got 302s
// for fails; a ledger that cannot be read is a diagnostic, not an error.
func TestClicksJudgedAgainstTheClient(t *testing.T) {
	cases := []struct {
		name          string
		srv           *ledgerServer
		client        map[string]load.Clicks
		missing, dups int
		settled       bool
		reason        string // in the missing_clicks line
	}{
		{"ledger and analytics agree, the client got more",
			&ledgerServer{ledger: &lab.ClickLedger{Acked: map[string]int{"a": 2}, AckedTotal: 2, Dropped: map[string]int{"buffer_full": 3}}, counted: map[string]int{"a": 2}},
			map[string]load.Clicks{"a": {Redirected: 5}}, 3, 0, true, "redirect reports dropping, buffer_full 3"},
		{"ledger claims acks analytics lacks, the client agrees with analytics",
			&ledgerServer{ledger: &lab.ClickLedger{Acked: map[string]int{"a": 9}, AckedTotal: 9}, counted: map[string]int{"a": 2}},
			map[string]load.Clicks{"a": {Redirected: 2}}, 0, 0, true, ""},
		{"redirect restarted, ledger unreadable",
			&ledgerServer{counted: map[string]int{"a": 4}},
			map[string]load.Clicks{"a": {Redirected: 3}}, 0, 1, true, ""},
		{"missing and no drop reported: waited for to the deadline",
			&ledgerServer{ledger: &lab.ClickLedger{AckedTotal: 1}, counted: map[string]int{"a": 1}},
			map[string]load.Clicks{"a": {Redirected: 2}}, 1, 0, false, "redirect reports no drop; analytics had not settled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.srv)
			defer srv.Close()
			d := &dataChecker{client: srv.Client(), redirect: srv.URL, analytics: srv.URL, settle: 1200 * time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ds := &reports.DataSafety{DroppedClicks: map[string]int{}}
			if err := d.checkEvents(ctx, nil, c.client, ds); err != nil {
				t.Fatal(err)
			}
			if ds.MissingClicks != c.missing || ds.DuplicateClicks != c.dups || ds.Settled != c.settled {
				t.Errorf("missing %d duplicates %d settled %v, want %d %d %v", ds.MissingClicks, ds.DuplicateClicks, ds.Settled, c.missing, c.dups, c.settled)
			}
			if (c.srv.ledger == nil) != (ds.LedgerError != "") {
				t.Errorf("ledger error %q", ds.LedgerError)
			}
			var line reports.Expectation
			for _, e := range verdict.JudgeData(ds, nil) {
				if e.What == "data.missing_clicks" {
					line = e
				}
			}
			if c.reason != "" && !strings.Contains(line.Observed, c.reason) {
				t.Errorf("missing_clicks observed %q, want the reason %q", line.Observed, c.reason)
			}
			if line.Pass != (c.missing == 0) {
				t.Errorf("missing_clicks pass %v with %d missing", line.Pass, c.missing)
			}
		})
	}
}

// TestLinksResolveToWhatWasSent: a link must exist and carry the URL the client created it with.
func TestLinksResolveToWhatWasSent(t *testing.T) {
	stored := map[string]string{"a": "https://example.com/a", "b": "https://example.com/other"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := strings.TrimPrefix(r.URL.Path, "/api/links/")
		url, ok := stored[code]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"code": %q, "url": %q}`, code, url)
	}))
	defer srv.Close()
	d := &dataChecker{client: srv.Client(), gateway: srv.URL}
	ds := &reports.DataSafety{}
	d.checkLinks(context.Background(), []load.Link{
		{Code: "a", URL: "https://example.com/a"},
		{Code: "b", URL: "https://example.com/b"}, // stored with another URL
		{Code: "c", URL: "https://example.com/c"}, // gone
		{Code: "a"}, // created with a body without url: existence only
	}, ds)
	if ds.LinksChecked != 4 || ds.LostLinks != 2 {
		t.Fatalf("checked %d lost %d, want 4 and 2 (%v)", ds.LinksChecked, ds.LostLinks, ds.LostLinkSamples)
	}
	if !strings.Contains(ds.LostLinkSamples[0], `resolves to "https://example.com/other"`) || !strings.HasPrefix(ds.LostLinkSamples[1], "c: 404") {
		t.Errorf("samples %q", ds.LostLinkSamples)
	}
}

// TestUnreadableLinksAreUnverifiedNotLost: a link the system refuses to read (503 from an
// open breaker) is not lost and not safe; after three such links in a row the rest get one
// try each (a breaker that never closes held one run's check for six minutes).
func TestUnreadableLinksAreUnverifiedNotLost(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if strings.HasSuffix(r.URL.Path, "/gone") {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "circuit open", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	d := &dataChecker{client: srv.Client(), gateway: srv.URL}
	ds := &reports.DataSafety{}
	links := []load.Link{{Code: "gone"}}
	for i := range 20 {
		links = append(links, load.Link{Code: fmt.Sprint("c", i)})
	}
	d.checkLinks(t.Context(), links, ds)
	if ds.LinksChecked != 21 || ds.LostLinks != 1 || ds.UnverifiedLinks != 20 {
		t.Fatalf("checked %d lost %d unverified %d, want 21, 1 (the 404) and 20", ds.LinksChecked, ds.LostLinks, ds.UnverifiedLinks)
	}
	if want := int32(1 + 3*5 + 17); asked.Load() != want {
		t.Errorf("%d reads, want %d: five tries for the first three unreadable links, one for the rest", asked.Load(), want)
	}
	if !strings.HasPrefix(ds.UnverifiedLinkSamples[0], "c0: 503") {
		t.Errorf("samples %q", ds.UnverifiedLinkSamples)
	}
}

// TestNothingToCheckIsNotHeld: data lines with nothing to check neither fail the run nor count
// as held expectations.
func TestNothingToCheckIsNotHeld(t *testing.T) {
	cases := []struct {
		name string
		ds   reports.DataSafety
		na   []string
	}{
		{"nothing at all", reports.DataSafety{Settled: true},
			[]string{"data.lost_links", "data.duplicate_clicks", "data.missing_clicks", "data.lost_link_events", "data.duplicate_link_events"}},
		{"links but no redirect", reports.DataSafety{LinksAcked: 3, LinksChecked: 3, Settled: true},
			[]string{"data.duplicate_clicks", "data.missing_clicks"}},
		// Clicks counted though the client received no redirect are duplicates: checked.
		{"clicks counted without a redirect", reports.DataSafety{LinksAcked: 1, ClicksCounted: 2, DuplicateClicks: 2},
			[]string{"data.missing_clicks"}},
		{"everything to check", reports.DataSafety{LinksAcked: 1, ClicksAcked: 1, ClicksCounted: 1}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp := verdict.JudgeData(&c.ds, nil)
			var na []string
			for _, e := range exp {
				if e.NotApplicable {
					na = append(na, e.What)
					if !e.Pass || !strings.HasPrefix(e.Observed, "nothing to check") {
						t.Errorf("%s: %+v, want a passing line saying nothing to check", e.What, e)
					}
				}
			}
			if !slices.Equal(na, c.na) {
				t.Errorf("not applicable %v, want %v", na, c.na)
			}
			res := reports.Results{Valid: true, ExpectedVerdict: reports.VerdictPass, Expectations: exp}
			verdict.Decide(&res, nil)
			wantVerdict := reports.VerdictPass
			if c.ds.DuplicateClicks > 0 {
				wantVerdict = reports.VerdictFail
			}
			if res.Verdict != wantVerdict {
				t.Fatalf("verdict %s, want %s: %v", res.Verdict, wantVerdict, res.Reasons)
			}
			if wantVerdict == reports.VerdictPass {
				want := fmt.Sprintf("all 0 SLOs and %d expectations held", 5-len(c.na))
				if !strings.HasPrefix(res.Reasons[0], want) {
					t.Errorf("reason %q, want it to start with %q", res.Reasons[0], want)
				}
			}
		})
	}
}

// TestEarlierClicksAreNotDuplicates: a long-lived system (the compose stack) holds the clicks
// of earlier runs; counted against this run's client they were all "duplicates" (3,464 in a
// run on the real stack). Counts present before the run are its baseline; a click counted on
// an old code during the run is still one.
func TestEarlierClicksAreNotDuplicates(t *testing.T) {
	srv := httptest.NewServer(&ledgerServer{ledger: &lab.ClickLedger{AckedTotal: 2}, counted: map[string]int{"old": 50, "older": 7, "a": 2}})
	defer srv.Close()
	ctx := context.Background()
	client := map[string]load.Clicks{"a": {Redirected: 2}}
	for _, tc := range []struct {
		name     string
		baseline map[string]int
		dups     int
	}{
		{"fresh system", nil, 57},
		{"used stack", map[string]int{"old": 50, "older": 7}, 0},
		{"late click on an old code", map[string]int{"old": 49, "older": 7}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &dataChecker{client: srv.Client(), redirect: srv.URL, analytics: srv.URL, settle: 100 * time.Millisecond, baseline: tc.baseline}
			ds := &reports.DataSafety{DroppedClicks: map[string]int{}}
			if err := d.checkEvents(ctx, nil, client, ds); err != nil {
				t.Fatal(err)
			}
			if ds.DuplicateClicks != tc.dups || ds.MissingClicks != 0 {
				t.Errorf("duplicates %d missing %d, want %d 0", ds.DuplicateClicks, ds.MissingClicks, tc.dups)
			}
		})
	}
	if got := clickBaseline(ctx, srv.Client(), srv.URL); got["old"] != 50 || got["a"] != 2 {
		t.Errorf("baseline %v, want analytics' counts", got)
	}
	if got := clickBaseline(ctx, srv.Client(), "http://127.0.0.1:1"); got != nil {
		t.Errorf("unreadable baseline %v, want nil (every count is the run's)", got)
	}
}
