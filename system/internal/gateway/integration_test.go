package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/analytics"
	"github.com/faultline/faultline/system/internal/billing"
	"github.com/faultline/faultline/system/internal/link"
	"github.com/faultline/faultline/system/internal/redirect"
	"github.com/faultline/faultline/system/internal/systemtest"
)

// startSystem starts the whole shortener in-process on real stores and returns the gateway URL.
func startSystem(t *testing.T) (gateway, redirectURL, analyticsURL string) {
	t.Helper()
	systemtest.Integration(t)
	linkDB := systemtest.Postgres(t)
	analyticsDB := systemtest.Postgres(t)
	rs := systemtest.Redis(t)
	ns := systemtest.NATS(t)

	start := func(name string, run systemtest.RunFunc, env map[string]string, readyPath string) string {
		return systemtest.Start(t, name, run, env, readyPath).URL
	}
	billingURL := start("billing", billing.Run, map[string]string{
		"SQLITE_PATH": filepath.Join(t.TempDir(), "billing.db"), "NATS_URL": ns.ClientURL()}, "/healthz")
	linkURL := start("link", link.Run, map[string]string{
		"DATABASE_URL": linkDB.DSN, "BILLING_URL": billingURL, "NATS_URL": ns.ClientURL()}, "/healthz")
	analyticsURL = start("analytics", analytics.Run, map[string]string{
		"DATABASE_URL": analyticsDB.DSN, "NATS_URL": ns.ClientURL()}, "/readyz")
	redirectURL = start("redirect", redirect.Run, map[string]string{
		"REDIS_ADDR": rs.Addr, "LINK_URL": linkURL, "NATS_URL": ns.ClientURL()}, "/readyz")
	gateway = start("gateway", Run, map[string]string{
		"REDIRECT_URL": redirectURL, "LINK_URL": linkURL, "ANALYTICS_URL": analyticsURL}, "/readyz")
	return gateway, redirectURL, analyticsURL
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
	resp, err := systemtest.NoFollow.Do(req)
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
