package redirect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/natsd"
	"github.com/faultline/faultline/system/internal/systemtest"
)

// fakeLink is link's GET /links/{code} and /healthz, switchable between up and down (503),
// counting lookups.
type fakeLink struct {
	urls  map[string]string
	down  atomic.Bool
	calls atomic.Int64
}

func (f *fakeLink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		return
	}
	f.calls.Add(1)
	if f.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	code := r.URL.Path[len("/links/"):]
	u, ok := f.urls[code]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "url": u})
}

func get(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := systemtest.NoFollow.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func clickStats(t *testing.T, base string) ClickStats {
	t.Helper()
	resp, err := http.Get(base + "/clicks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s ClickStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func streamMsgs(t *testing.T, natsURL, stream string) uint64 {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

type redirectEnv struct {
	link  *fakeLink
	redis *localserver.Server
	nats  *natsd.Server
	svc   *systemtest.Service
}

func startRedirectEnv(t *testing.T) *redirectEnv {
	t.Helper()
	return startRedirectEnvWith(t, map[string]string{})
}

func startRedirectEnvWith(t *testing.T, extra map[string]string) *redirectEnv {
	t.Helper()
	systemtest.Integration(t)
	e := &redirectEnv{link: &fakeLink{urls: map[string]string{}}}
	for i := range 20 {
		e.link.urls[fmt.Sprintf("c%d", i)] = fmt.Sprintf("https://example.com/%d", i)
	}
	linkSrv := httptest.NewServer(e.link)
	t.Cleanup(linkSrv.Close)
	e.redis = systemtest.Redis(t)
	e.nats = systemtest.NATS(t)
	env := map[string]string{
		"REDIS_ADDR":         e.redis.Addr,
		"LINK_URL":           linkSrv.URL,
		"NATS_URL":           e.nats.ClientURL(),
		"RESILIENCE_PROFILE": "testdata/fastbreaker.yaml",
		"CLICK_BUFFER":       "1000",
	}
	for k, v := range extra {
		env[k] = v
	}
	e.svc = systemtest.Start(t, "redirect", Run, env, "/readyz")
	return e
}

func TestIntegrationRedirectCacheAndClicks(t *testing.T) {
	e := startRedirectEnv(t)
	base := e.svc.URL

	// Miss, then hit: link is asked once.
	for i, want := range []string{"miss", "hit", "hit"} {
		resp := get(t, base+"/r/c1")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("X-Cache") != want || resp.Header.Get("Location") != "https://example.com/1" {
			t.Fatalf("request %d: %d X-Cache=%q Location=%q; want 302 %s", i+1, resp.StatusCode, resp.Header.Get("X-Cache"), resp.Header.Get("Location"), want)
		}
	}
	if n := e.link.calls.Load(); n != 1 {
		t.Errorf("link called %d times for 3 redirects of one code, want 1", n)
	}

	// Unknown codes: 404, cached negative (link asked once), never a click.
	for range 2 {
		if resp := get(t, base+"/r/nope"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown code: %d, want 404", resp.StatusCode)
		}
	}
	if n := e.link.calls.Load(); n != 2 {
		t.Errorf("link called %d times after two unknown lookups, want 2 (negative cache)", n)
	}

	// Every 302 is one acked click, and JetStream holds exactly that many.
	for i := range 7 {
		get(t, fmt.Sprintf("%s/r/c%d", base, i%3))
	}
	systemtest.Eventually(t, "all clicks acked", 5*time.Second, func() (bool, string) {
		n := clickStats(t, base).AckedTotal
		return n == 10, fmt.Sprintf("acked %d", n)
	})
	s := clickStats(t, base)
	if s.Acked["c1"] != 5 || s.Acked["c0"] != 3 || s.Acked["c2"] != 2 || s.PublishedTotal != 10 {
		t.Errorf("clicks = %+v, want c0:3 c1:5 c2:2, published 10", s)
	}
	if n := streamMsgs(t, e.nats.ClientURL(), events.StreamClicks); n != 10 {
		t.Errorf("CLICKS stream holds %d messages, acked_total 10", n)
	}
	if hits := systemtest.Metric(t, base, "cache_requests_total", `result="hit"`); hits < 2 {
		t.Errorf("cache_requests_total{result=hit} = %v, want >= 2", hits)
	}
}

func TestIntegrationRedirectBreakerOpensAndCloses(t *testing.T) {
	e := startRedirectEnv(t)
	base := e.svc.URL
	get(t, base+"/r/c1") // resolved once: in Redis and in the stale LRU

	e.link.down.Store(true)
	// Uncached codes all need link: the breaker (window 4, ratio 0.5) must open.
	for i := 2; i < 8; i++ {
		resp := get(t, fmt.Sprintf("%s/r/c%d", base, i))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("link down, c%d: %d Retry-After=%q; want 503 with Retry-After", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if st := systemtest.Metric(t, base, "resilience_breaker_state", `edge="redirect->link"`); st != 2 {
		t.Fatalf("breaker state %v after link failures, want 2 (open)", st)
	}
	callsOpen := e.link.calls.Load()
	start := time.Now()
	resp := get(t, base+"/r/c9")
	if resp.StatusCode != http.StatusServiceUnavailable || time.Since(start) > 100*time.Millisecond {
		t.Errorf("open breaker: %d in %v, want a fast 503", resp.StatusCode, time.Since(start))
	}
	if e.link.calls.Load() != callsOpen {
		t.Error("link was called while the breaker was open")
	}

	// The stale_cache fallback: a code resolved before still redirects once Redis forgot it.
	rc := redis.NewClient(&redis.Options{Addr: e.redis.Addr})
	defer rc.Close()
	if err := rc.Del(context.Background(), keyPrefix+"c1").Err(); err != nil {
		t.Fatal(err)
	}
	resp = get(t, base+"/r/c1")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("X-Fallback") != "stale_cache" {
		t.Errorf("stale fallback: %d X-Fallback=%q, want 302 stale_cache", resp.StatusCode, resp.Header.Get("X-Fallback"))
	}
	if n := systemtest.Metric(t, base, "resilience_fallbacks_total", `kind="stale_cache"`); n < 1 {
		t.Errorf("resilience_fallbacks_total{kind=stale_cache} = %v, want >= 1", n)
	}

	// Link recovers: after the delay (300 ms) half-open trials succeed and the breaker closes.
	e.link.down.Store(false)
	systemtest.Eventually(t, "breaker closed after link recovered", 5*time.Second, func() (bool, string) {
		get(t, base+"/r/c10")
		get(t, base+"/r/c11")
		st := systemtest.Metric(t, base, "resilience_breaker_state", `edge="redirect->link"`)
		return st == 0, fmt.Sprintf("breaker state %v", st)
	})
	if resp := get(t, base+"/r/c12"); resp.StatusCode != http.StatusFound {
		t.Errorf("after recovery: %d, want 302", resp.StatusCode)
	}
	for _, tr := range []string{`to="open"`, `to="half-open"`, `to="closed"`} {
		if n := systemtest.Metric(t, base, "resilience_breaker_transitions_total", `edge="redirect->link"`, tr); n < 1 {
			t.Errorf("no breaker transition %s counted", tr)
		}
	}
}

func TestIntegrationRedirectSurvivesRedisLossAndFlushesOnStop(t *testing.T) {
	e := startRedirectEnv(t)
	base := e.svc.URL
	if err := e.redis.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		resp := get(t, fmt.Sprintf("%s/r/c%d", base, i))
		if resp.StatusCode != http.StatusFound || resp.Header.Get("X-Cache") != "miss" {
			t.Fatalf("Redis down: %d X-Cache=%q, want 302 miss", resp.StatusCode, resp.Header.Get("X-Cache"))
		}
	}
	if n := systemtest.Metric(t, base, "cache_requests_total", `result="error"`); n < 5 {
		t.Errorf("cache_requests_total{result=error} = %v, want >= 5", n)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("redis")) {
		t.Errorf("/readyz with Redis down: %d %s; want 503 naming redis", resp.StatusCode, body)
	}
	// SIGTERM: drain, flush every buffered click, exit cleanly.
	if err := e.svc.Stop(); err != nil {
		t.Fatalf("Run returned %v on shutdown, want nil", err)
	}
	if n := streamMsgs(t, e.nats.ClientURL(), events.StreamClicks); n != 5 {
		t.Errorf("CLICKS stream holds %d messages after shutdown, want 5", n)
	}
}

func TestIntegrationRedirectNeverWaitsOnNATS(t *testing.T) {
	e := startRedirectEnvWith(t, map[string]string{"CLICK_BUFFER": "5"})
	base := e.svc.URL
	get(t, base+"/r/c1") // warm the cache
	e.nats.Shutdown()

	const n = 40
	var slowest time.Duration
	for range n {
		start := time.Now()
		resp := get(t, base+"/r/c1")
		slowest = max(slowest, time.Since(start))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("NATS down: %d, want 302", resp.StatusCode)
		}
	}
	if slowest > 250*time.Millisecond {
		t.Errorf("slowest redirect with NATS down took %v: the click path must not block", slowest)
	}
	s := clickStats(t, base)
	// At most the buffer (5) plus one click per publisher (4) can be pending; the rest are
	// dropped and counted, never hidden.
	if s.Dropped[DropBufferFull] < n-5-DefaultClickWorkers {
		t.Errorf("dropped = %v after %d clicks into a buffer of 5 with NATS down, want buffer_full >= %d", s.Dropped, n, n-5-DefaultClickWorkers)
	}
	if err := e.svc.Stop(); err != nil {
		t.Fatalf("Run returned %v, want nil even when the flush could not finish", err)
	}
	// After the bounded flush every click is accounted for: acked, or dropped with a cause.
	m := regexp.MustCompile(`redirect: stopped.* acked_total=(\d+) .*dropped="?map\[buffer_full:(\d+) publish_error:(\d+)\]`).FindStringSubmatch(e.svc.Logs())
	if m == nil {
		t.Fatalf("no final click accounting in logs:\n%s", e.svc.Logs())
	}
	total := 0
	for _, v := range m[1:] {
		n, _ := strconv.Atoi(v)
		total += n
	}
	t.Logf("final accounting: acked %s, buffer_full %s, publish_error %s; slowest redirect %v", m[1], m[2], m[3], slowest)
	if total != n+1 {
		t.Errorf("acked + dropped = %d (%v), want every one of the %d clicks", total, m[1:], n+1)
	}
}
