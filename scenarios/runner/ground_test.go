package runner

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/scenarios/load"
)

// TestDataCheckFollowsTheClient drives a few redirects on the real system, then feeds the
// checker client tallies that disagree with redirect's ledger: the verdict must follow the
// client. (The old check took redirect's /clicks ledger as the reference, so a redirect that
// answered 302 without enqueueing a click passed.)
func TestDataCheckFollowsTheClient(t *testing.T) {
	bin := needSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := StartProcesses(ctx, lab.Options{Dir: t.TempDir(), StateDir: t.TempDir(), Binary: bin, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close(context.WithoutCancel(ctx))
	setup, err := load.Setup(ctx, sys.Gateway(), 2, load.SetupOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	a, b := setup.Links[0].Code, setup.Links[1].Code
	var truth load.Tally
	for _, l := range setup.Links {
		truth.Created(l)
	}
	c := httpClient()
	for code, n := range map[string]int{a: 3, b: 2} {
		for range n {
			resp, err := c.Get(sys.Gateway() + "/r/" + code)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("GET /r/%s: %d", code, resp.StatusCode)
			}
			truth.Redirect(code, resp.StatusCode)
		}
	}
	dc := &dataChecker{client: httpClient(), gateway: sys.Gateway(), redirect: sys.Direct("redirect"), analytics: sys.Direct("analytics"), settle: 15 * time.Second}
	ds := dc.check(ctx, &truth)
	if ds.Error != "" || !ds.Settled || ds.ClicksAcked != 5 || ds.ClicksCounted != 5 || ds.MissingClicks != 0 || ds.DuplicateClicks != 0 || ds.LostLinks != 0 {
		t.Fatalf("the true tally: %+v, want 5 redirects counted once, settled", ds)
	}
	if ds.LedgerAckedClicks != 5 {
		t.Fatalf("redirect's ledger acked %d, want 5: the ledger agrees with analytics", ds.LedgerAckedClicks)
	}

	// The client got two more 302s for a than redirect recorded (a redirect that answers
	// without enqueueing): ledger and analytics agree with each other, the clicks are missing.
	var more load.Tally
	for _, l := range setup.Links {
		more.Created(l)
	}
	for range 5 {
		more.Redirect(a, http.StatusFound)
	}
	for range 2 {
		more.Redirect(b, http.StatusFound)
	}
	dc.settle = 2 * time.Second
	ds = dc.check(ctx, &more)
	if ds.MissingClicks != 2 || ds.DuplicateClicks != 0 || ds.Settled {
		t.Errorf("client got 7, redirect recorded 5: missing %d duplicates %d settled %v, want 2 0 false", ds.MissingClicks, ds.DuplicateClicks, ds.Settled)
	}

	// The client never got b's redirects: analytics' counts on b are duplicates, though the
	// ledger vouches for them; a's timeouts cannot excuse them.
	var fewer load.Tally
	for range 3 {
		fewer.Redirect(a, http.StatusFound)
	}
	fewer.Redirect(a, 0)
	fewer.Redirect(a, 0)
	ds = dc.check(ctx, &fewer)
	if ds.DuplicateClicks != 2 || ds.MissingClicks != 0 || !strings.HasPrefix(ds.ClickSamples[0], b+":") {
		t.Errorf("client got none on b: duplicates %d missing %d samples %v, want 2 on b", ds.DuplicateClicks, ds.MissingClicks, ds.ClickSamples)
	}
}
