package link

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faultline/faultline/system/internal/billing"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/natsd"
	"github.com/faultline/faultline/system/internal/systemtest"
	"github.com/faultline/faultline/system/internal/telemetry"
)

func TestMain(m *testing.M) { systemtest.Main(m) }

func startBilling(t *testing.T, natsURL string) *systemtest.Service {
	return systemtest.Start(t, "billing", billing.Run, map[string]string{
		"SQLITE_PATH": t.TempDir() + "/billing.db", "NATS_URL": natsURL}, "/healthz")
}

func startLink(t *testing.T, dsn, billingURL, natsURL, prof string) *systemtest.Service {
	return systemtest.Start(t, "link", Run, map[string]string{
		"DATABASE_URL": dsn, "BILLING_URL": billingURL, "NATS_URL": natsURL, "RESILIENCE_PROFILE": prof}, "/healthz")
}

func postLink(t *testing.T, base, url, account string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"url": url, "account": account})
	resp, err := http.Post(base+"/links", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("POST /links: %d, body not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func usage(t *testing.T, billingURL, account string) float64 {
	_, body := getJSON(t, billingURL+"/usage/"+account)
	n, _ := body["links_created"].(float64)
	return n
}

func TestIntegrationCreateGetUsageOnce(t *testing.T) {
	dsn := systemtest.Database(t)
	ns := systemtest.NATS(t)
	billingURL := startBilling(t, ns.ClientURL()).URL
	linkURL := startLink(t, dsn, billingURL, ns.ClientURL(), "default").URL

	var codes []string
	for i := range 3 {
		status, body := postLink(t, linkURL, fmt.Sprintf("https://example.com/%d", i), "acct-1")
		if status != 201 || body["quota_checked"] != true || body["account"] != "acct-1" {
			t.Fatalf("create: %d %v", status, body)
		}
		codes = append(codes, body["code"].(string))
	}
	for i, c := range codes {
		status, body := getJSON(t, linkURL+"/links/"+c)
		if status != 200 || body["url"] != fmt.Sprintf("https://example.com/%d", i) {
			t.Fatalf("get %s: %d %v", c, status, body)
		}
	}
	if status, body := getJSON(t, linkURL+"/links/NOPE1234"); status != 404 || body["code"] != "not_found" {
		t.Fatalf("unknown code: %d %v", status, body)
	}
	if status, body := postLink(t, linkURL, "https://u:p@example.com", ""); status != 400 || body["code"] != "invalid_url" {
		t.Fatalf("credentials: %d %v", status, body)
	}
	systemtest.Eventually(t, "usage 3", 10*time.Second, func() (bool, string) {
		n := usage(t, billingURL, "acct-1")
		return n == 3, fmt.Sprint(n)
	})

	// The relay publishes every row a second time: JetStream drops them by message id.
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tag, err := pool.Exec(ctx, `UPDATE outbox SET sent_at = NULL`)
	if err != nil || tag.RowsAffected() != 3 {
		t.Fatalf("reset outbox: %v %v", tag, err)
	}
	systemtest.Eventually(t, "outbox republished", 10*time.Second, func() (bool, string) {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n)
		return n == 0, fmt.Sprint(n, " pending")
	})

	// And the same events again without message ids (JetStream stores them): billing's
	// processed-events table must drop them.
	var evs []events.Event
	rows, _ := pool.Query(ctx, `SELECT payload FROM outbox`)
	for rows.Next() {
		var b []byte
		var ev events.Event
		_ = rows.Scan(&b)
		_ = json.Unmarshal(b, &ev)
		evs = append(evs, ev)
	}
	rows.Close()
	_, js, err := events.Connect(ctx, ns.ClientURL(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	tel, _ := telemetry.Setup(ctx, "test", func(string) string { return "" }, nil)
	raw := events.NewPublisher(js, tel, "test->nats", false, nil)
	for _, ev := range evs {
		if _, err := raw.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	systemtest.Eventually(t, "billing saw the duplicates", 10*time.Second, func() (bool, string) {
		n := systemtest.Metric(t, billingURL, "events_consumed_total", `result="duplicate"`, `service="billing"`, `subject="links.created"`)
		return n >= 3, fmt.Sprint(n)
	})
	if n := usage(t, billingURL, "acct-1"); n != 3 {
		t.Fatalf("usage after duplicates = %v, want 3 (counted exactly once)", n)
	}
	if n := systemtest.Metric(t, linkURL, "events_acked_total", `service="link"`, `subject="links.created"`); n < 6 {
		t.Fatalf("link acked %v events, want 6 (3 + 3 republished)", n)
	}
}

func TestIntegrationFailOpenWhenBillingDown(t *testing.T) {
	dsn := systemtest.Database(t)
	ns := systemtest.NATS(t)
	dead := "http://" + closedAddr(t)
	linkURL := startLink(t, dsn, dead, ns.ClientURL(), "default").URL
	status, body := postLink(t, linkURL, "https://example.com/open", "acct-2")
	if status != 201 || body["quota_checked"] != false {
		t.Fatalf("billing down: %d %v, want 201 with quota_checked=false", status, body)
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var checked bool
	if err := pool.QueryRow(context.Background(), `SELECT quota_checked FROM links WHERE code = $1`, body["code"]).Scan(&checked); err != nil || checked {
		t.Fatalf("stored quota_checked = %v (%v), want false", checked, err)
	}
	if n := systemtest.Metric(t, linkURL, "link_quota_unchecked_total"); n != 1 {
		t.Fatalf("unchecked metric = %v", n)
	}
	if n := systemtest.Metric(t, linkURL, "resilience_fallbacks_total", `edge="link->billing"`, `kind="fail_open"`); n != 1 {
		t.Fatalf("fallback metric = %v", n)
	}

	// Without the fallback the failure reaches the caller, and nothing is stored.
	dsn2 := systemtest.Database(t)
	linkURL2 := startLink(t, dsn2, dead, ns.ClientURL(), "no-fallback").URL
	if status, body := postLink(t, linkURL2, "https://example.com/closed", "acct-2"); status < 500 || body["code"] != "billing_unavailable" {
		t.Fatalf("no-fallback: %d %v, want 5xx billing_unavailable", status, body)
	}
}

func TestIntegrationQuotaExceeded(t *testing.T) {
	dsn := systemtest.Database(t)
	ns := systemtest.NATS(t)
	billingURL := startBilling(t, ns.ClientURL()).URL
	linkURL := startLink(t, dsn, billingURL, ns.ClientURL(), "default").URL
	req, _ := http.NewRequest(http.MethodPut, billingURL+"/accounts/small", strings.NewReader(`{"plan":"tiny"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("set plan: %v %v", resp, err)
	}
	resp.Body.Close()
	for i := range 3 {
		if status, body := postLink(t, linkURL, fmt.Sprintf("https://e.com/%d", i), "small"); status != 201 {
			t.Fatalf("link %d: %d %v", i, status, body)
		}
	}
	systemtest.Eventually(t, "usage 3", 10*time.Second, func() (bool, string) {
		n := usage(t, billingURL, "small")
		return n == 3, fmt.Sprint(n)
	})
	if status, body := postLink(t, linkURL, "https://e.com/4", "small"); status != 402 || body["code"] != "quota_exceeded" {
		t.Fatalf("4th link on tiny plan: %d %v, want 402", status, body)
	}
}

// The outbox keeps events while NATS is down and publishes them once it is back.
func TestIntegrationOutboxSurvivesNATSOutage(t *testing.T) {
	dsn := systemtest.Database(t)
	store := t.TempDir()
	ns, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	addr := ns.Addr()
	url := ns.ClientURL()
	bill := startBilling(t, url)
	billingURL := bill.URL
	lk := startLink(t, dsn, billingURL, url, "default")
	linkURL := lk.URL
	ns.Shutdown()

	status, body := postLink(t, linkURL, "https://example.com/during-outage", "acct-3")
	if status != 201 {
		t.Fatalf("create during NATS outage: %d %v (the outbox should absorb it)", status, body)
	}
	systemtest.Eventually(t, "outbox_pending 1 during the outage", 5*time.Second, func() (bool, string) {
		n := systemtest.Metric(t, linkURL, "outbox_pending")
		return n == 1, fmt.Sprint(n)
	})
	ns2, err := natsd.Start(natsd.Options{Listen: addr, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns2.Shutdown)
	systemtest.Eventually(t, "usage after NATS is back", 20*time.Second, func() (bool, string) {
		n := usage(t, billingURL, "acct-3")
		return n == 1, fmt.Sprint(n)
	})
	lk.Stop() // while NATS is still up, so shutdown does not wait on it
	bill.Stop()
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// Billing down: links are created unchecked (fail open) and their usage is counted once billing
// comes back, from the durable consumer: nothing is lost.
func TestIntegrationBillingDownLosesNoUsage(t *testing.T) {
	dsn := systemtest.Database(t)
	ns := systemtest.NATS(t)
	billingAddr := closedAddr(t)
	linkURL := startLink(t, dsn, "http://"+billingAddr, ns.ClientURL(), "default").URL
	for i := range 2 {
		if status, body := postLink(t, linkURL, fmt.Sprintf("https://e.com/%d", i), "acct-4"); status != 201 || body["quota_checked"] != false {
			t.Fatalf("billing down: %d %v", status, body)
		}
	}
	dbFile := t.TempDir() + "/billing.db"
	billingEnv := map[string]string{"LISTEN_ADDR": billingAddr, "SQLITE_PATH": dbFile, "NATS_URL": ns.ClientURL()}
	bill := systemtest.Start(t, "billing", billing.Run, billingEnv, "/healthz")
	billingURL := bill.URL
	systemtest.Eventually(t, "usage counted after billing came back", 10*time.Second, func() (bool, string) {
		n := usage(t, billingURL, "acct-4")
		return n == 2, fmt.Sprint(n)
	})
	// A restart of billing redelivers nothing new and counts nothing twice.
	bill.Stop()
	systemtest.Start(t, "billing", billing.Run, billingEnv, "/healthz")
	time.Sleep(2500 * time.Millisecond) // link's breaker on link->billing may still be open from the outage
	if status, body := postLink(t, linkURL, "https://e.com/after", "acct-4"); status != 201 || body["quota_checked"] != true {
		t.Fatalf("billing back: %d %v", status, body)
	}
	systemtest.Eventually(t, "usage 3", 10*time.Second, func() (bool, string) {
		n := usage(t, billingURL, "acct-4")
		return n == 3, fmt.Sprint(n)
	})
}

// Measures create and get latency on loopback through the whole path (billing, PostgreSQL,
// outbox) and logs the figures; it fails only when something is grossly slow.
func TestIntegrationLatencyFigures(t *testing.T) {
	dsn := systemtest.Database(t)
	ns := systemtest.NATS(t)
	billingURL := startBilling(t, ns.ClientURL()).URL
	linkURL := startLink(t, dsn, billingURL, ns.ClientURL(), "default").URL
	const n = 200
	var create, get []time.Duration
	for i := range n {
		start := time.Now()
		status, body := postLink(t, linkURL, fmt.Sprintf("https://example.com/%d", i), "lat")
		create = append(create, time.Since(start))
		if status != 201 {
			t.Fatalf("create: %d %v", status, body)
		}
		start = time.Now()
		if status, _ := getJSON(t, linkURL+"/links/"+body["code"].(string)); status != 200 {
			t.Fatalf("get: %d", status)
		}
		get = append(get, time.Since(start))
	}
	pct := func(d []time.Duration, p float64) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[int(p*float64(len(s)-1))]
	}
	t.Logf("POST /links: p50 %v p99 %v max %v; GET /links/{code}: p50 %v p99 %v (n=%d, sequential)",
		pct(create, .5), pct(create, .99), pct(create, 1), pct(get, .5), pct(get, .99), n)
	if pct(create, .5) > 200*time.Millisecond {
		t.Fatalf("create p50 %v: something is wrong", pct(create, .5))
	}
	systemtest.Eventually(t, "all usage counted", 10*time.Second, func() (bool, string) {
		u := usage(t, billingURL, "lat")
		return u == n, fmt.Sprint(u)
	})
}

// The no-outbox mutant publishes after commit, best effort: fine while NATS is up, and an
// event is lost (and counted as dropped) when NATS is down — what the outbox prevents.
func TestIntegrationNoOutboxLosesEventsWhenNATSDown(t *testing.T) {
	dsn := systemtest.Database(t)
	ns, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	billingURL := startBilling(t, ns.ClientURL()).URL
	lk := startLink(t, dsn, billingURL, ns.ClientURL(), "no-outbox")
	linkURL := lk.URL
	if status, body := postLink(t, linkURL, "https://e.com/up", "acct-5"); status != 201 {
		t.Fatalf("create: %d %v", status, body)
	}
	systemtest.Eventually(t, "usage 1 via direct publish", 10*time.Second, func() (bool, string) {
		n := usage(t, billingURL, "acct-5")
		return n == 1, fmt.Sprint(n)
	})
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var rows int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&rows)
	if rows != 0 {
		t.Fatalf("no-outbox wrote %d outbox rows", rows)
	}
	ns.Shutdown()
	if status, body := postLink(t, linkURL, "https://e.com/down", "acct-5"); status != 201 {
		t.Fatalf("create during outage: %d %v", status, body)
	}
	systemtest.Eventually(t, "the event counted as dropped", 10*time.Second, func() (bool, string) {
		n := systemtest.Metric(t, linkURL, "events_dropped_total", `cause=`)
		return n >= 1, fmt.Sprint(n)
	})
	lk.Stop()
}

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	dsn := systemtest.Database(t)
	ctx := context.Background()
	pool, err := OpenPool(ctx, dsn, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- Migrate(ctx, pool) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("schema_migrations rows = %d (%v), want 2", n, err)
	}
}
