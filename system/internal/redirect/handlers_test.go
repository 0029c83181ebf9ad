package redirect

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faultline/faultline/system/internal/telemetry"
)

func newTestTelemetry(t testing.TB) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.Setup(context.Background(), "redirect", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tel
}

// recordingClicks is a clickRecorder that remembers enqueued codes.
type recordingClicks struct{ codes []string }

func (c *recordingClicks) Enqueue(_ context.Context, code, _ string) bool {
	c.codes = append(c.codes, code)
	return true
}
func (c *recordingClicks) Stats() ClickStats {
	s := ClickStats{Acked: map[string]int64{}, Dropped: map[string]int64{}}
	for _, code := range c.codes {
		s.Acked[code]++
		s.AckedTotal++
	}
	return s
}

func newTestServer(t testing.TB, links *fakeLinks, cache *memCache, stale *staleCache) (http.Handler, *recordingClicks) {
	t.Helper()
	clicks := &recordingClicks{}
	res := &Resolver{Cache: cache, Links: links, Stale: stale}
	ready := map[string]func(context.Context) error{"redis": cache.Ping}
	return NewServer(nil, newTestTelemetry(t), res, clicks, ready), clicks
}

func TestRedirectHandler(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		linkErr    error
		stale      bool
		wantStatus int
		wantLoc    string
		wantCache  string
		wantCode   string // JSON error code
		wantClicks int
	}{
		{"known code", "/r/abc", nil, false, http.StatusFound, "https://example.com/a", "miss", "", 1},
		{"unknown code", "/r/nope", nil, false, http.StatusNotFound, "", "", "not_found", 0},
		{"invalid code", "/r/a-b", nil, false, http.StatusBadRequest, "", "", "invalid_code", 0},
		{"too long", "/r/" + strings.Repeat("a", 33), nil, false, http.StatusBadRequest, "", "", "invalid_code", 0},
		{"link down", "/r/abc", errors.New("boom"), false, http.StatusServiceUnavailable, "", "", "unavailable", 0},
		{"unknown route", "/x", nil, false, http.StatusNotFound, "", "", "not_found", 0},
		{"wrong method", "/r/abc#post", nil, false, http.StatusNotFound, "", "", "not_found", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			links := &fakeLinks{urls: map[string]string{"abc": "https://example.com/a"}, err: tt.linkErr}
			h, clicks := newTestServer(t, links, newMemCache(), nil)
			method, path := http.MethodGet, tt.path
			if p, ok := strings.CutSuffix(path, "#post"); ok {
				method, path = http.MethodPost, p
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tt.wantLoc {
				t.Errorf("Location = %q, want %q", got, tt.wantLoc)
			}
			if got := rec.Header().Get("X-Cache"); got != tt.wantCache {
				t.Errorf("X-Cache = %q, want %q", got, tt.wantCache)
			}
			if tt.wantCode != "" {
				var body struct{ Error, Code string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != tt.wantCode {
					t.Errorf("body = %s, want JSON code %q", rec.Body, tt.wantCode)
				}
			}
			if tt.wantStatus == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if len(clicks.codes) != tt.wantClicks {
				t.Errorf("clicks = %d, want %d", len(clicks.codes), tt.wantClicks)
			}
		})
	}
}

func TestRedirectSecondRequestIsCacheHit(t *testing.T) {
	links := &fakeLinks{urls: map[string]string{"abc": "https://example.com/a"}}
	h, clicks := newTestServer(t, links, newMemCache(), nil)
	for i, want := range []string{"miss", "hit"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/r/abc", nil))
		if rec.Code != http.StatusFound || rec.Header().Get("X-Cache") != want {
			t.Errorf("request %d: %d X-Cache %q, want 302 %q", i+1, rec.Code, rec.Header().Get("X-Cache"), want)
		}
	}
	if links.calls != 1 {
		t.Errorf("link called %d times, want 1", links.calls)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/clicks", nil))
	var s ClickStats
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || s.Acked["abc"] != 2 {
		t.Errorf("/clicks = %s, want abc: 2", rec.Body)
	}
	_ = clicks
}

func TestRedirectStaleFallbackMarked(t *testing.T) {
	links := &fakeLinks{urls: map[string]string{"abc": "https://example.com/a"}}
	cache := newMemCache()
	h, _ := newTestServer(t, links, cache, newStaleCache(16))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/r/abc", nil))
	cache.down, links.err = true, errors.New("link down")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/r/abc", nil))
	if rec.Code != http.StatusFound || rec.Header().Get("X-Fallback") != "stale_cache" {
		t.Errorf("got %d X-Fallback %q, want 302 stale_cache", rec.Code, rec.Header().Get("X-Fallback"))
	}
}

func FuzzRedirectHandler(f *testing.F) {
	for _, s := range []string{"/r/abc", "/r/", "/r/%00", "/r/..%2F", "/r/" + strings.Repeat("z", 40), "/clicks", "/r/a%20b", "/r/nope"} {
		f.Add("GET", s)
	}
	f.Add("POST", "/r/abc")
	f.Add("DELETE", "/clicks")
	links := &fakeLinks{urls: map[string]string{"abc": "https://example.com/a"}}
	h, _ := newTestServer(f, links, newMemCache(), newStaleCache(16))
	f.Fuzz(func(t *testing.T, method, path string) {
		req, err := http.NewRequest(method, "http://redirect"+path, nil)
		if err != nil || !strings.HasPrefix(path, "/") {
			return // not a request a client could send
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d", method, path, rec.Code)
		}
		if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %q: %d with content type %q", method, path, rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}
