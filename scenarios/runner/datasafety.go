package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/faultline/faultline/reports"
)

// dataChecker verifies the invariants after the load stopped and every fault was healed:
// acknowledged links resolve, acknowledged clicks are counted once.
type dataChecker struct {
	client    *http.Client
	gateway   string // base URL of the public API
	redirect  string // redirect service, direct (for its /clicks ledger)
	analytics string // analytics service, direct (for its /stats)
	settle    time.Duration
}

// clickLedger is redirect's GET /clicks (docs/contracts.md).
type clickLedger struct {
	Acked          map[string]int `json:"acked"`
	AckedTotal     int            `json:"acked_total"`
	PublishedTotal int            `json:"published_total"`
	Dropped        map[string]int `json:"dropped"`
}

// clickCounts is analytics' GET /stats.
type clickCounts struct {
	ClicksTotal int            `json:"clicks_total"`
	Codes       map[string]int `json:"codes"`
}

func (d *dataChecker) check(ctx context.Context, ackedLinks []string) *reports.DataSafety {
	ds := &reports.DataSafety{LinksAcked: len(ackedLinks), DroppedClicks: map[string]int{}}
	d.checkLinks(ctx, ackedLinks, ds)
	if err := d.checkClicks(ctx, ds); err != nil {
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

// checkClicks waits until analytics has caught up with what redirect had acknowledged (both
// stable over two polls), then compares per code.
func (d *dataChecker) checkClicks(ctx context.Context, ds *reports.DataSafety) error {
	deadline := time.Now().Add(d.settle)
	var ledger clickLedger
	var counts clickCounts
	prevAcked, prevCounted := -1, -1
	for {
		if err := d.getJSON(ctx, d.redirect+"/clicks", &ledger); err != nil {
			return fmt.Errorf("data: read redirect click ledger: %w", err)
		}
		if err := d.getJSON(ctx, d.analytics+"/stats", &counts); err != nil {
			return fmt.Errorf("data: read analytics counts: %w", err)
		}
		counted := 0
		for _, n := range counts.Codes {
			counted += n
		}
		stable := ledger.AckedTotal == prevAcked && counted == prevCounted
		if stable && counted >= ledger.AckedTotal {
			ds.Settled = true
			break
		}
		if time.Now().After(deadline) {
			break
		}
		prevAcked, prevCounted = ledger.AckedTotal, counted
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	compareClicks(ledger, counts, ds)
	return nil
}

// compareClicks fills the click invariants. A click whose publish failed may still have been
// stored by JetStream (the ack was lost), so counts above acked are duplicates only beyond those.
func compareClicks(ledger clickLedger, counts clickCounts, ds *reports.DataSafety) {
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

func (d *dataChecker) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
