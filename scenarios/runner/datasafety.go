package runner

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports"
)

// dataChecker verifies the invariants after the load stopped and every fault was healed:
// acknowledged links resolve, acknowledged clicks are counted once, and analytics applied
// exactly one link-created event for every acknowledged link.
type dataChecker struct {
	client    *http.Client
	gateway   string // base URL of the public API
	redirect  string // redirect service, direct (for its /clicks ledger)
	analytics string // analytics service, direct (for its /stats)
	settle    time.Duration
}

func (d *dataChecker) check(ctx context.Context, ackedLinks []string) *reports.DataSafety {
	ds := &reports.DataSafety{LinksAcked: len(ackedLinks), DroppedClicks: map[string]int{}}
	d.checkLinks(ctx, ackedLinks, ds)
	if err := d.checkEvents(ctx, ackedLinks, ds); err != nil {
		ds.Error = err.Error()
	}
	return ds
}

// checkLinks reads every acknowledged link back through the gateway. It uses GET
// /api/links/{code}, not /r/{code}, because a redirect would add a click and move the other
// invariant. A link that still fails after retries counts as lost: unproven is not safe.
func (d *dataChecker) checkLinks(ctx context.Context, codes []string, ds *reports.DataSafety) {
	for _, code := range codes {
		status, err := d.getWithRetry(ctx, d.gateway+"/api/links/"+code, 5)
		ds.LinksChecked++
		if err == nil && status == http.StatusOK {
			continue
		}
		ds.LostLinks++
		if len(ds.LostLinkSamples) < 10 {
			why := fmt.Sprint(status)
			if err != nil {
				why = err.Error()
			}
			ds.LostLinkSamples = append(ds.LostLinkSamples, code+": "+why)
		}
	}
}

func (d *dataChecker) getWithRetry(ctx context.Context, url string, tries int) (int, error) {
	var lastErr error
	status := 0
	for i := 0; i < tries; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return status, ctx.Err()
			case <-time.After(time.Duration(100*(1<<i)) * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := d.client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		resp.Body.Close()
		status, lastErr = resp.StatusCode, nil
		// 404 is an answer (the link is gone); only 5xx and 429 are worth another try.
		if status < 500 && status != http.StatusTooManyRequests {
			return status, nil
		}
	}
	return status, lastErr
}

// settleTally is what one poll saw; the counts have settled when two polls in a row agree
// and analytics has everything that was acknowledged.
type settleTally struct {
	clicksAcked, clicksCounted int
	linkCodes, linkEvents      int // acknowledged codes with an event, and their events
}

// checkEvents waits until analytics has caught up with what was acknowledged, then compares:
// clicks per code with redirect's ledger, link events per code with the acknowledged links.
// Both are read in one poll, so an outbox relay still draining its backlog (NATS just came
// back) is waited for like a click consumer catching up; the wait is bounded by d.settle.
func (d *dataChecker) checkEvents(ctx context.Context, ackedLinks []string, ds *reports.DataSafety) error {
	deadline := time.Now().Add(d.settle)
	codes := uniqueCodes(ackedLinks)
	var ledger lab.ClickLedger
	var stats lab.AnalyticsStats
	prev := settleTally{-1, -1, -1, -1}
	for {
		if err := lab.GetJSON(ctx, d.client, d.redirect+"/clicks", &ledger); err != nil {
			return fmt.Errorf("data: read redirect click ledger: %w", err)
		}
		stats = lab.AnalyticsStats{}
		if err := lab.GetJSON(ctx, d.client, d.analytics+"/stats", &stats); err != nil {
			return fmt.Errorf("data: read analytics counts: %w", err)
		}
		if stats.Links == nil {
			// An analytics without the links map cannot prove a single link event arrived.
			return fmt.Errorf("data: analytics /stats has no \"links\": link events cannot be checked")
		}
		cur := settleTally{clicksAcked: ledger.AckedTotal}
		for _, n := range stats.Codes {
			cur.clicksCounted += n
		}
		cur.linkCodes, cur.linkEvents = linkEventsOf(codes, stats.Links)
		if cur == prev && cur.clicksCounted >= cur.clicksAcked && cur.linkCodes == len(codes) {
			ds.Settled = true
			break
		}
		if time.Now().After(deadline) {
			break
		}
		prev = cur
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	compareClicks(ledger, stats, ds)
	compareLinkEvents(codes, stats.Links, ds)
	return nil
}

// uniqueCodes keeps the first occurrence of each code, in order.
func uniqueCodes(codes []string) []string {
	seen := make(map[string]bool, len(codes))
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// linkEventsOf counts the acknowledged codes analytics has an event for, and their events.
func linkEventsOf(codes []string, links map[string]int) (present, events int) {
	for _, c := range codes {
		if n := links[c]; n > 0 {
			present++
			events += n
		}
	}
	return present, events
}

// compareLinkEvents fills the link-event invariants for the acknowledged codes: each must have
// exactly one event applied. Codes that were never acknowledged are not judged: the outbox
// commits the event with the link, so a creation whose answer was lost still has one.
// Retries cannot inflate the count either (the event id is the JetStream message id and
// analytics keeps a processed-events table), so every event beyond one is a duplicate.
func compareLinkEvents(codes []string, links map[string]int, ds *reports.DataSafety) {
	for _, c := range codes {
		n := links[c]
		ds.LinkEventsCounted += n
		switch {
		case n <= 0:
			ds.LostLinkEvents++
			if len(ds.LostLinkEventSamples) < 10 {
				ds.LostLinkEventSamples = append(ds.LostLinkEventSamples, c)
			}
		case n > 1:
			ds.DuplicateLinkEvents += n - 1
		}
	}
}

// compareClicks fills the click invariants. A click whose publish failed may still have been
// stored by JetStream (the ack was lost), so counts above acked are duplicates only beyond those.
func compareClicks(ledger lab.ClickLedger, counts lab.AnalyticsStats, ds *reports.DataSafety) {
	ds.ClicksAcked = ledger.AckedTotal
	for cause, n := range ledger.Dropped {
		ds.DroppedClicks[cause] = n
	}
	codes := map[string]bool{}
	for c := range ledger.Acked {
		codes[c] = true
	}
	for c := range counts.Codes {
		codes[c] = true
	}
	keys := make([]string, 0, len(codes))
	for c := range codes {
		keys = append(keys, c)
	}
	sort.Strings(keys)
	extra := 0
	for _, c := range keys {
		acked, counted := ledger.Acked[c], counts.Codes[c]
		ds.ClicksCounted += counted
		if counted < acked {
			ds.MissingClicks += acked - counted
		} else {
			extra += counted - acked
		}
	}
	ds.DuplicateClicks = max(0, extra-ledger.Dropped["publish_error"])
}
