package link

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/system/internal/billing"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/natsd"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// One PostgreSQL server for the package's integration tests; each test gets its own database.
var (
	pgOnce sync.Once
	pgSrv  *localserver.Server
	pgErr  error
	dbSeq  atomic.Int32
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgSrv != nil {
		_ = pgSrv.Stop()
	}
	os.Exit(code)
}

// newDatabase returns the DSN of a fresh database, or skips (fails on CI) without PostgreSQL.
func newDatabase(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		dir, err := os.MkdirTemp("", "link-it-")
		if err != nil {
			pgErr = err
			return
		}
		pgSrv, pgErr = localserver.Postgres(ctx, localserver.PostgresOptions{Dir: dir})
	})
	if errors.Is(pgErr, localserver.ErrMissingBinary) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (install the Debian package postgresql: make deps)", pgErr)
		}
		t.Skip(pgErr)
	}
	if pgErr != nil {
		t.Fatalf("postgres: %v", pgErr)
	}
	name := fmt.Sprintf("linktest%d", dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgSrv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(pgSrv.DSN, "/app?", "/"+name+"?", 1)
}

func startNATS(t *testing.T) *natsd.Server {
	t.Helper()
	s, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// serve runs a service's Serve on a fresh port and returns its base URL; cleanup stops it and
// checks it returned cleanly.
func serve(t *testing.T, name string, run func(ctx context.Context, ln net.Listener) error) (url string, stop func()) {
	return serveOn(t, name, "127.0.0.1:0", run)
}

func serveOn(t *testing.T, name, addr string, run func(ctx context.Context, ln net.Listener) error) (url string, stop func()) {
	t.Helper()
	ln, err := httpx.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, ln) }()
	url = "http://" + ln.Addr().String()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("%s exited at start: %v", name, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return url, stop
}

func profile(t *testing.T, name string) *resilience.Profile {
	p, err := resilience.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startBilling(t *testing.T, natsURL string) string {
	u, _ := serve(t, "billing", func(ctx context.Context, ln net.Listener) error {
		return billing.Serve(ctx, billing.Config{Profile: profile(t, "default"), SQLitePath: t.TempDir() + "/billing.db", NATSURL: natsURL, Logger: testLogger(t, "billing")}, ln)
	})
	return u
}

func startLink(t *testing.T, dsn, billingURL, natsURL, prof string) (string, func()) {
	return serve(t, "link", func(ctx context.Context, ln net.Listener) error {
		return Serve(ctx, Config{Profile: profile(t, prof), DatabaseURL: dsn, BillingURL: billingURL, NATSURL: natsURL, Logger: testLogger(t, "link")}, ln)
	})
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

// eventually polls cond every 50 ms for at most d.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not reached within %v: %s", what, d, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func usage(t *testing.T, billingURL, account string) float64 {
	_, body := getJSON(t, billingURL+"/usage/"+account)
	n, _ := body["links_created"].(float64)
	return n
}

func metric(t *testing.T, base, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			return v
		}
	}
	return 0
}

func TestIntegrationCreateGetUsageOnce(t *testing.T) {
	dsn := newDatabase(t)
	ns := startNATS(t)
	billingURL := startBilling(t, ns.ClientURL())
	linkURL, _ := startLink(t, dsn, billingURL, ns.ClientURL(), "default")

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
	eventually(t, 10*time.Second, "usage 3", func() (bool, string) {
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
	eventually(t, 10*time.Second, "outbox republished", func() (bool, string) {
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
	eventually(t, 10*time.Second, "billing saw the duplicates", func() (bool, string) {
		n := metric(t, billingURL, `events_consumed_total{result="duplicate",service="billing",subject="links.created"}`)
		return n >= 3, fmt.Sprint(n)
	})
	if n := usage(t, billingURL, "acct-1"); n != 3 {
		t.Fatalf("usage after duplicates = %v, want 3 (counted exactly once)", n)
	}
	if n := metric(t, linkURL, `events_acked_total{service="link",subject="links.created"}`); n < 6 {
		t.Fatalf("link acked %v events, want 6 (3 + 3 republished)", n)
	}
}

func TestIntegrationFailOpenWhenBillingDown(t *testing.T) {
	dsn := newDatabase(t)
	ns := startNATS(t)
	dead := "http://" + closedAddr(t)
	linkURL, _ := startLink(t, dsn, dead, ns.ClientURL(), "default")
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
	if n := metric(t, linkURL, `link_quota_unchecked_total`); n != 1 {
		t.Fatalf("unchecked metric = %v", n)
	}
	if n := metric(t, linkURL, `resilience_fallbacks_total{edge="link->billing",kind="fail_open"`); n != 1 {
		t.Fatalf("fallback metric = %v", n)
	}

	// Without the fallback the failure reaches the caller, and nothing is stored.
	dsn2 := newDatabase(t)
	linkURL2, _ := startLink(t, dsn2, dead, ns.ClientURL(), "no-fallback")
	if status, body := postLink(t, linkURL2, "https://example.com/closed", "acct-2"); status < 500 || body["code"] != "billing_unavailable" {
		t.Fatalf("no-fallback: %d %v, want 5xx billing_unavailable", status, body)
	}
}

func TestIntegrationQuotaExceeded(t *testing.T) {
	dsn := newDatabase(t)
	ns := startNATS(t)
	billingURL := startBilling(t, ns.ClientURL())
	linkURL, _ := startLink(t, dsn, billingURL, ns.ClientURL(), "default")
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
	eventually(t, 10*time.Second, "usage 3", func() (bool, string) {
		n := usage(t, billingURL, "small")
		return n == 3, fmt.Sprint(n)
	})
	if status, body := postLink(t, linkURL, "https://e.com/4", "small"); status != 402 || body["code"] != "quota_exceeded" {
		t.Fatalf("4th link on tiny plan: %d %v, want 402", status, body)
	}
}

// The outbox keeps events while NATS is down and publishes them once it is back.
func TestIntegrationOutboxSurvivesNATSOutage(t *testing.T) {
	dsn := newDatabase(t)
	store := t.TempDir()
	ns, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	addr := ns.Addr()
	url := ns.ClientURL()
	billingURL, stopBilling := serve(t, "billing", func(ctx context.Context, ln net.Listener) error {
		return billing.Serve(ctx, billing.Config{Profile: profile(t, "default"), SQLitePath: t.TempDir() + "/billing.db", NATSURL: url, Logger: testLogger(t, "billing")}, ln)
	})
	linkURL, stopLink := startLink(t, dsn, billingURL, url, "default")
	ns.Shutdown()

	status, body := postLink(t, linkURL, "https://example.com/during-outage", "acct-3")
	if status != 201 {
		t.Fatalf("create during NATS outage: %d %v (the outbox should absorb it)", status, body)
	}
	eventually(t, 5*time.Second, "outbox_pending 1 during the outage", func() (bool, string) {
		n := metric(t, linkURL, `outbox_pending`)
		return n == 1, fmt.Sprint(n)
	})
	ns2, err := natsd.Start(natsd.Options{Listen: addr, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns2.Shutdown)
	eventually(t, 20*time.Second, "usage after NATS is back", func() (bool, string) {
		n := usage(t, billingURL, "acct-3")
		return n == 1, fmt.Sprint(n)
	})
	stopLink() // while NATS is still up, so shutdown does not wait on it
	stopBilling()
}

// testLogger sends a service's logs to the test output (shown with -v or on failure).
func testLogger(t *testing.T, service string) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})).With("service", service)
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
	dsn := newDatabase(t)
	ns := startNATS(t)
	billingAddr := closedAddr(t)
	linkURL, _ := startLink(t, dsn, "http://"+billingAddr, ns.ClientURL(), "default")
	for i := range 2 {
		if status, body := postLink(t, linkURL, fmt.Sprintf("https://e.com/%d", i), "acct-4"); status != 201 || body["quota_checked"] != false {
			t.Fatalf("billing down: %d %v", status, body)
		}
	}
	dbFile := t.TempDir() + "/billing.db"
	runBilling := func(ctx context.Context, ln net.Listener) error {
		return billing.Serve(ctx, billing.Config{Profile: profile(t, "default"), SQLitePath: dbFile, NATSURL: ns.ClientURL(), Logger: testLogger(t, "billing")}, ln)
	}
	billingURL, stopBilling := serveOn(t, "billing", billingAddr, runBilling)
	eventually(t, 10*time.Second, "usage counted after billing came back", func() (bool, string) {
		n := usage(t, billingURL, "acct-4")
		return n == 2, fmt.Sprint(n)
	})
	// A restart of billing redelivers nothing new and counts nothing twice.
	stopBilling()
	serveOn(t, "billing", billingAddr, runBilling)
	time.Sleep(2500 * time.Millisecond) // link's breaker on link->billing may still be open from the outage
	if status, body := postLink(t, linkURL, "https://e.com/after", "acct-4"); status != 201 || body["quota_checked"] != true {
		t.Fatalf("billing back: %d %v", status, body)
	}
	eventually(t, 10*time.Second, "usage 3", func() (bool, string) {
		n := usage(t, billingURL, "acct-4")
		return n == 3, fmt.Sprint(n)
	})
}

// Measures create and get latency on loopback through the whole path (billing, PostgreSQL,
// outbox) and logs the figures; it fails only when something is grossly slow.
func TestIntegrationLatencyFigures(t *testing.T) {
	dsn := newDatabase(t)
	ns := startNATS(t)
	billingURL := startBilling(t, ns.ClientURL())
	linkURL, _ := startLink(t, dsn, billingURL, ns.ClientURL(), "default")
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
	eventually(t, 10*time.Second, "all usage counted", func() (bool, string) {
		u := usage(t, billingURL, "lat")
		return u == n, fmt.Sprint(u)
	})
}

// The no-outbox mutant publishes after commit, best effort: fine while NATS is up, and an
// event is lost (and counted as dropped) when NATS is down — what the outbox prevents.
func TestIntegrationNoOutboxLosesEventsWhenNATSDown(t *testing.T) {
	dsn := newDatabase(t)
	ns, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	billingURL := startBilling(t, ns.ClientURL())
	linkURL, stopLink := startLink(t, dsn, billingURL, ns.ClientURL(), "no-outbox")
	if status, body := postLink(t, linkURL, "https://e.com/up", "acct-5"); status != 201 {
		t.Fatalf("create: %d %v", status, body)
	}
	eventually(t, 10*time.Second, "usage 1 via direct publish", func() (bool, string) {
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
	eventually(t, 10*time.Second, "the event counted as dropped", func() (bool, string) {
		n := metric(t, linkURL, `events_dropped_total{cause=`)
		return n >= 1, fmt.Sprint(n)
	})
	stopLink()
}

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	dsn := newDatabase(t)
	ctx := context.Background()
	pool, err := OpenPool(ctx, dsn)
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
