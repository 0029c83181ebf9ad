package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios/load"
)

// dataChecker verifies the invariants after the load stopped and every fault was healed,
// against what the client itself was answered (a load.Tally): every acknowledged link resolves
// to the URL it was created with, every redirect the client received is counted exactly once,
// and analytics applied exactly one link-created event for every acknowledged link. Redirect's
// own click ledger is read as a diagnostic only (why clicks went missing), never as the
// reference: a redirect that never records a click, or restarts and forgets, cannot vouch for
// itself.
type dataChecker struct {
	client    *http.Client
	gateway   string // base URL of the public API
	redirect  string // redirect service, direct (for its /clicks ledger, a diagnostic)
	analytics string // analytics service, direct (for its /stats)
	settle    time.Duration
	loadEnd   time.Time // when the load ended: CaughtUpS counts from it
	// baseline is analytics' per-code counts before the run's setup (see clickBaseline).
	baseline map[string]int
}

// clickBaseline reads analytics' per-code click counts before the run: a long-lived system
// (the compose stack) holds earlier runs' clicks, and those are not this run's duplicates.
// nil when unreadable: every count is then the run's, so a surplus can only fail the run.
func clickBaseline(ctx context.Context, c *http.Client, analytics string) map[string]int {
	var stats lab.AnalyticsStats
	if err := lab.GetJSON(ctx, c, analytics+"/stats", &stats); err != nil {
		return nil
	}
	return stats.Codes
}

// sinceBaseline is what was counted per code since the baseline was read.
func sinceBaseline(counted, baseline map[string]int) map[string]int {
	if len(baseline) == 0 {
		return counted
	}
	out := make(map[string]int, len(counted))
	for code, n := range counted {
		if n -= baseline[code]; n > 0 {
			out[code] = n
		}
	}
	return out
}

func (d *dataChecker) check(ctx context.Context, tally *load.Tally) *reports.DataSafety {
	links := tally.Links()
	ds := &reports.DataSafety{LinksAcked: len(links), DroppedClicks: map[string]int{}}
	// The links are read back while the event counts settle: neither moves the other (a
	// link's read adds no click), they fill fields of their own, and the settling waits at
	// least one poll interval anyway.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.checkLinks(ctx, links, ds)
	}()
	if err := d.checkEvents(ctx, links, tally.Clicks(), ds); err != nil {
		ds.Error = err.Error()
	}
	wg.Wait()
	return ds
}

// checkLinks reads every acknowledged link back through the gateway. It uses GET
// /api/links/{code}, not /r/{code}, because a redirect would add a click and move the other
// invariant. A link that is not found, or that answers with another URL than the one it was
// created with, is lost. One that cannot be read at all (5xx, 429, no answer after retries) is
// unverified: not safe, not lost. After unreadableRun such links in a row the rest get a
// single try each, so a system refusing every read (a breaker that never closes) cannot hold
// the check for seconds per link.
func (d *dataChecker) checkLinks(ctx context.Context, links []load.Link, ds *reports.DataSafety) {
	const unreadableRun = 3
	inRow := 0
	for _, l := range links {
		tries := 5
		if inRow >= unreadableRun {
			tries = 1
		}
		status, url, err := d.getLink(ctx, l.Code, tries)
		ds.LinksChecked++
		why, unreadable := "", false
		switch {
		case err != nil && status == 0, status >= 500, status == http.StatusTooManyRequests:
			unreadable = true
			why = fmt.Sprint(status)
			if err != nil {
				why = err.Error()
			}
		case err != nil:
			why = err.Error()
		case status != http.StatusOK:
			why = fmt.Sprint(status)
		case l.URL != "" && url != l.URL:
			why = fmt.Sprintf("resolves to %q, created with %q", url, l.URL)
		default:
			inRow = 0
			continue
		}
		if unreadable {
			inRow++
			ds.UnverifiedLinks++
			if len(ds.UnverifiedLinkSamples) < 10 {
				ds.UnverifiedLinkSamples = append(ds.UnverifiedLinkSamples, l.Code+": "+why)
			}
			continue
		}
		inRow = 0
		ds.LostLinks++
		if len(ds.LostLinkSamples) < 10 {
			ds.LostLinkSamples = append(ds.LostLinkSamples, l.Code+": "+why)
		}
	}
}

// getLink reads one link, retrying 5xx, 429 and transport errors; it returns the status and,
// on a 200, the link's URL.
func (d *dataChecker) getLink(ctx context.Context, code string, tries int) (int, string, error) {
	var lastErr error
	status := 0
	for i := 0; i < tries; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return status, "", ctx.Err()
			case <-time.After(time.Duration(100*(1<<i)) * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.gateway+"/api/links/"+code, nil)
		if err != nil {
			return 0, "", err
		}
		resp, err := d.client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		var link struct {
			URL string `json:"url"`
		}
		status, lastErr = resp.StatusCode, nil
		if status == http.StatusOK {
			lastErr = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&link)
		}
		resp.Body.Close()
		// 404 is an answer (the link is gone); only 5xx and 429 are worth another try.
		if status < 500 && status != http.StatusTooManyRequests {
			if lastErr != nil {
				return status, "", fmt.Errorf("unreadable answer: %w", lastErr)
			}
			return status, link.URL, nil
		}
	}
	return status, "", lastErr
}

// settleTally is what one poll saw; the counts have settled when two polls in a row agree
// and analytics has everything the client was acknowledged (or what it lacks, redirect
// itself reports having dropped).
type settleTally struct {
	clicksCounted, clicksMissing int
	linkCodes, linkEvents        int // acknowledged codes with an event, and their events
}

// checkEvents waits until analytics has caught up with what the client was acknowledged, then
// compares, per code: clicks with the redirects the client received, link events with the
// acknowledged links. Both are read in one poll, so an outbox relay still draining its
// backlog (NATS just came back) is waited for like a click consumer catching up; the wait is
// bounded by d.settle.
func (d *dataChecker) checkEvents(ctx context.Context, links []load.Link, clicks map[string]load.Clicks, ds *reports.DataSafety) error {
	deadline := time.Now().Add(d.settle)
	codes := make([]string, len(links))
	for i, l := range links {
		codes[i] = l.Code
	}
	codes = uniqueCodes(codes)
	var (
		ledger    lab.ClickLedger
		ledgerErr error
		stats     lab.AnalyticsStats
	)
	prev := settleTally{-1, -1, -1, -1}
	for {
		ledger = lab.ClickLedger{}
		ledgerErr = lab.GetJSON(ctx, d.client, d.redirect+"/clicks", &ledger)
		stats = lab.AnalyticsStats{}
		if err := lab.GetJSON(ctx, d.client, d.analytics+"/stats", &stats); err != nil {
			return fmt.Errorf("data: read analytics counts: %w", err)
		}
		stats.Codes = sinceBaseline(stats.Codes, d.baseline)
		if stats.Links == nil {
			// An analytics without the links map cannot prove a single link event arrived.
			return fmt.Errorf("data: analytics /stats has no \"links\": link events cannot be checked")
		}
		cur := settleTally{}
		for _, n := range stats.Codes {
			cur.clicksCounted += n
		}
		cur.clicksMissing, _, _ = clickGaps(clicks, stats.Codes)
		cur.linkCodes, cur.linkEvents = linkEventsOf(codes, stats.Links)
		// Clicks redirect says it dropped will never arrive: waiting for them only delays
		// the verdict. The ledger decides nothing else: what is missing is judged below.
		dropped := 0
		for _, n := range ledger.Dropped {
			dropped += n
		}
		explained := ledgerErr == nil && cur.clicksMissing <= dropped
		if cur == prev && (cur.clicksMissing == 0 || explained) && cur.linkCodes == len(codes) {
			ds.Settled = true
			if !d.loadEnd.IsZero() {
				ds.CaughtUpS = time.Since(d.loadEnd).Seconds()
			}
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
	compareClicks(clicks, stats.Codes, ds)
	ledgerDiagnostics(ledger, ledgerErr, ds)
	compareLinkEvents(codes, stats.Links, ds)
	return nil
}

// ledgerDiagnostics copies what redirect says it did with the clicks: the explanation a
// report gives for missing clicks, never a reference.
func ledgerDiagnostics(ledger lab.ClickLedger, err error, ds *reports.DataSafety) {
	if err != nil {
		ds.LedgerError = fmt.Sprintf("data: read redirect click ledger: %v", err)
		return
	}
	ds.LedgerAckedClicks = ledger.AckedTotal
	for cause, n := range ledger.Dropped {
		ds.DroppedClicks[cause] = n
	}
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

// clickGaps judges every code on its own (one code's surplus never hides another's loss):
// missing are redirects the client received beyond what analytics counted; duplicates are
// counts beyond the redirects received and the requests whose outcome the client does not
// know (a timeout after redirect answered). A code analytics counted that the client never
// asked for is all duplicates. The codes with a gap come back sorted.
func clickGaps(clicks map[string]load.Clicks, counted map[string]int) (missing, duplicates int, gaps []string) {
	codes := make([]string, 0, len(clicks)+len(counted))
	for c := range clicks {
		codes = append(codes, c)
	}
	for c := range counted {
		if _, ok := clicks[c]; !ok {
			codes = append(codes, c)
		}
	}
	sort.Strings(codes)
	for _, c := range codes {
		cl, n := clicks[c], counted[c]
		m, d := max(0, cl.Redirected-n), max(0, n-cl.Redirected-cl.Unknown)
		missing += m
		duplicates += d
		if m > 0 || d > 0 {
			gaps = append(gaps, c)
		}
	}
	return missing, duplicates, gaps
}

// compareClicks fills the click invariants from the client's tally and analytics' counts.
func compareClicks(clicks map[string]load.Clicks, counted map[string]int, ds *reports.DataSafety) {
	for _, cl := range clicks {
		ds.ClicksAcked += cl.Redirected
		ds.ClicksUnknown += cl.Unknown
	}
	for _, n := range counted {
		ds.ClicksCounted += n
	}
	var gaps []string
	ds.MissingClicks, ds.DuplicateClicks, gaps = clickGaps(clicks, counted)
	for _, c := range gaps[:min(len(gaps), 10)] {
		cl := clicks[c]
		ds.ClickSamples = append(ds.ClickSamples, fmt.Sprintf("%s: %d redirects received, %d unknown, %d counted", c, cl.Redirected, cl.Unknown, counted[c]))
	}
}
