package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/system/internal/analytics"
	"github.com/faultline/faultline/system/internal/billing"
	"github.com/faultline/faultline/system/internal/link"
	"github.com/faultline/faultline/system/internal/natsd"
	"github.com/faultline/faultline/system/internal/redirect"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type runFunc func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error

// runService runs a component's Run in-process on a free port until the test ends and waits
// for readyPath to answer 200.
func runService(t *testing.T, name string, run runFunc, env map[string]string, readyPath string) string {
	t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env["LISTEN_ADDR"] = addr
	env["LOG_FORMAT"] = "text"
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("%s: Run returned %v on shutdown", name, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20s", name)
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-errc:
			t.Fatalf("%s exited while starting: %v\n%s", name, err, logs.String())
		default:
		}
		if resp, err := http.Get(base + readyPath); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 20s\n%s", name, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func need(t *testing.T, err error, pkg string) {
	t.Helper()
	if errors.Is(err, localserver.ErrMissingBinary) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (Debian package %s; run `make deps`)", err, pkg)
		}
		t.Skipf("%v (Debian package %s; run `make deps`)", err, pkg)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// startSystem starts the whole shortener in-process on real stores and returns the gateway URL.
func startSystem(t *testing.T) (gateway, redirectURL, analyticsURL string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	linkDB, err := localserver.Postgres(ctx, localserver.PostgresOptions{Dir: t.TempDir()})
	need(t, err, "postgresql")
	t.Cleanup(func() { _ = linkDB.Stop() })
	analyticsDB, err := localserver.Postgres(ctx, localserver.PostgresOptions{Dir: t.TempDir()})
	need(t, err, "postgresql")
	t.Cleanup(func() { _ = analyticsDB.Stop() })
	rs, err := localserver.Redis(ctx, localserver.RedisOptions{Dir: t.TempDir()})
	need(t, err, "redis-server")
	t.Cleanup(func() { _ = rs.Stop() })
	ns, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)

	billingURL := runService(t, "billing", billing.Run, map[string]string{
		"SQLITE_PATH": filepath.Join(t.TempDir(), "billing.db"), "NATS_URL": ns.ClientURL()}, "/healthz")
	linkURL := runService(t, "link", link.Run, map[string]string{
		"DATABASE_URL": linkDB.DSN, "BILLING_URL": billingURL, "NATS_URL": ns.ClientURL()}, "/healthz")
	analyticsURL = runService(t, "analytics", analytics.Run, map[string]string{
		"DATABASE_URL": analyticsDB.DSN, "NATS_URL": ns.ClientURL()}, "/readyz")
	redirectURL = runService(t, "redirect", redirect.Run, map[string]string{
		"REDIS_ADDR": rs.Addr, "LINK_URL": linkURL, "NATS_URL": ns.ClientURL()}, "/readyz")
	gateway = runService(t, "gateway", Run, map[string]string{
		"REDIRECT_URL": redirectURL, "LINK_URL": linkURL, "ANALYTICS_URL": analyticsURL}, "/readyz")
	return gateway, redirectURL, analyticsURL
}

var noFollow = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func do(t *testing.T, method, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestIntegrationSystemThroughGateway(t *testing.T) {
	gw, redirectURL, analyticsURL := startSystem(t)

	// Create: 201 with a code, forwarded untouched.
	resp, body := do(t, "POST", gw+"/api/links", `{"url":"https://example.com/landing","account":"acct-1"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var created struct{ Code, URL string }
	if err := json.Unmarshal(body, &created); err != nil || created.Code == "" {
		t.Fatalf("create body %s: %v", body, err)
	}

	// The created link redirects; the second redirect is served from Redis.
	for i, want := range []string{"miss", "hit"} {
		resp, _ := do(t, "GET", gw+"/r/"+created.Code, "")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://example.com/landing" || resp.Header.Get("X-Cache") != want {
			t.Fatalf("redirect %d: %d Location=%q X-Cache=%q; want 302 to the landing page, %s",
				i+1, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("X-Cache"), want)
		}
	}

	// Reads through the gateway.
	if resp, body := do(t, "GET", gw+"/api/links/"+created.Code, ""); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(created.Code)) {
		t.Errorf("get link: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, "GET", gw+"/api/links/Zz9unknown", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("get unknown link: %d, want 404 passed through", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", gw+"/r/Zz9unknown", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("redirect unknown code: %d, want 404", resp.StatusCode)
	}

	// Client mistakes are 4xx JSON at the edge.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/links", `{"url":`},
		{"POST", "/api/links", `{"url":"javascript:alert(1)"}`},
		{"GET", "/r/bad-code!", ""},
		{"GET", "/api/links/" + strings.Repeat("a", 33) + "/stats", ""},
	} {
		resp, body := do(t, c.method, gw+c.path, c.body)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || !json.Valid(body) {
			t.Errorf("%s %s %q: %d %s, want 4xx JSON", c.method, c.path, c.body, resp.StatusCode, body)
		}
	}

	// Clicks: analytics ends up with exactly the clicks redirect got acked.
	for range 8 {
		do(t, "GET", gw+"/r/"+created.Code, "")
	}
	var acked redirect.ClickStats
	var stats struct {
		Code   string
		Clicks int64
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b := do(t, "GET", redirectURL+"/clicks", "")
		_ = json.Unmarshal(b, &acked)
		_, b = do(t, "GET", gw+"/api/links/"+created.Code+"/stats", "")
		_ = json.Unmarshal(b, &stats)
		if acked.AckedTotal == 10 && stats.Clicks == acked.Acked[created.Code] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clicks: redirect acked %d (%v), analytics counted %d; want 10 each", acked.AckedTotal, acked.Acked, stats.Clicks)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The link-created event reached analytics once.
	var all analytics.Stats
	deadline = time.Now().Add(10 * time.Second)
	for all.LinksTotal != 1 {
		_, b := do(t, "GET", analyticsURL+"/stats", "")
		_ = json.Unmarshal(b, &all)
		if time.Now().After(deadline) {
			t.Fatalf("analytics links_total = %d, want 1", all.LinksTotal)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
