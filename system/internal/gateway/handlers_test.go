package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// fakeCaller answers every call with reply or err and records the calls.
type fakeCaller struct {
	mu    sync.Mutex
	reply *Reply
	err   error
	delay time.Duration
	calls []string
	body  []byte
}

func (f *fakeCaller) Call(ctx context.Context, method, path string, body []byte) (*Reply, error) {
	f.mu.Lock()
	f.calls = append(f.calls, method+" "+path)
	f.body = body
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.reply == nil {
		return &Reply{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{}`)}, nil
	}
	return f.reply, nil
}

func jsonReply(status int, body string) *Reply {
	return &Reply{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
}

func loadProfile(t testing.TB) *resilience.Profile {
	t.Helper()
	p, err := resilience.Load("testdata/tight.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestGateway(t testing.TB, up Upstreams) http.Handler {
	t.Helper()
	tel, err := telemetry.Setup(context.Background(), "gateway", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewServer(nil, tel, loadProfile(t), up, nil)
}

func TestGatewayRoutes(t *testing.T) {
	redirect302 := &Reply{Status: 302, Header: http.Header{"Location": {"https://example.com"}, "X-Cache": {"hit"}}}
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		ctype      string
		caller     *fakeCaller // the upstream the route should use
		wantStatus int
		wantCode   string // JSON error code, "" when the upstream body passes through
		wantCall   string // upstream call, "" = none
		wantHeader map[string]string
	}{
		{name: "redirect passes 302", method: "GET", path: "/r/abc", caller: &fakeCaller{reply: redirect302},
			wantStatus: 302, wantCall: "GET /r/abc", wantHeader: map[string]string{"Location": "https://example.com", "X-Cache": "hit"}},
		{name: "redirect bad code", method: "GET", path: "/r/ab-c", caller: &fakeCaller{}, wantStatus: 400, wantCode: "invalid_code"},
		{name: "redirect 404 passes", method: "GET", path: "/r/abc", caller: &fakeCaller{reply: jsonReply(404, `{"error":"x","code":"not_found"}`)},
			wantStatus: 404, wantCode: "not_found", wantCall: "GET /r/abc"},
		{name: "redirect 503 passes with retry-after", method: "GET", path: "/r/abc",
			caller:     &fakeCaller{reply: &Reply{Status: 503, Header: http.Header{"Retry-After": {"1"}, "Content-Type": {"application/json"}}, Body: []byte(`{"error":"x","code":"unavailable"}`)}},
			wantStatus: 503, wantCode: "unavailable", wantCall: "GET /r/abc", wantHeader: map[string]string{"Retry-After": "1"}},
		{name: "upstream 500 becomes 502", method: "GET", path: "/api/links/abc", caller: &fakeCaller{reply: jsonReply(500, `{}`)},
			wantStatus: 502, wantCode: "upstream_error", wantCall: "GET /links/abc"},
		{name: "breaker open is 503", method: "GET", path: "/api/links/abc", caller: &fakeCaller{err: fmt.Errorf("x: %w", resilience.ErrOpen)},
			wantStatus: 503, wantCode: "breaker_open", wantCall: "GET /links/abc", wantHeader: map[string]string{"Retry-After": "1"}},
		{name: "bulkhead full is 503", method: "GET", path: "/api/links/abc", caller: &fakeCaller{err: resilience.ErrFull},
			wantStatus: 503, wantCode: "bulkhead_full", wantCall: "GET /links/abc"},
		{name: "timeout is 504", method: "GET", path: "/api/links/abc", caller: &fakeCaller{err: resilience.ErrTimeout},
			wantStatus: 504, wantCode: "timeout", wantCall: "GET /links/abc"},
		{name: "connection refused is 502", method: "GET", path: "/api/links/abc", caller: &fakeCaller{err: errors.New("dial tcp: refused")},
			wantStatus: 502, wantCode: "upstream_error", wantCall: "GET /links/abc"},
		{name: "create forwards", method: "POST", path: "/api/links", body: `{"url":"https://x.org"}`, ctype: "application/json",
			caller: &fakeCaller{reply: jsonReply(201, `{"code":"abc"}`)}, wantStatus: 201, wantCall: "POST /links"},
		{name: "create 402 passes", method: "POST", path: "/api/links", body: `{"url":"https://x.org"}`,
			caller: &fakeCaller{reply: jsonReply(402, `{"error":"q","code":"quota_exceeded"}`)}, wantStatus: 402, wantCode: "quota_exceeded", wantCall: "POST /links"},
		{name: "create bad json", method: "POST", path: "/api/links", body: `{"url":`, caller: &fakeCaller{}, wantStatus: 400, wantCode: "invalid_body"},
		{name: "create empty body", method: "POST", path: "/api/links", caller: &fakeCaller{}, wantStatus: 400, wantCode: "invalid_body"},
		{name: "create too big", method: "POST", path: "/api/links", body: `{"url":"` + strings.Repeat("a", MaxCreateBody) + `"}`,
			caller: &fakeCaller{}, wantStatus: 413, wantCode: "body_too_large"},
		{name: "create wrong type", method: "POST", path: "/api/links", body: `url=x`, ctype: "application/x-www-form-urlencoded",
			caller: &fakeCaller{}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "get forwards", method: "GET", path: "/api/links/Abc9", caller: &fakeCaller{reply: jsonReply(200, `{"code":"Abc9"}`)},
			wantStatus: 200, wantCall: "GET /links/Abc9"},
		{name: "stats forwards", method: "GET", path: "/api/links/abc/stats", caller: &fakeCaller{reply: jsonReply(200, `{"code":"abc","clicks":2}`)},
			wantStatus: 200, wantCall: "GET /stats/abc"},
		{name: "stats route timeout is 504", method: "GET", path: "/api/links/abc/stats", caller: &fakeCaller{delay: time.Second},
			wantStatus: 504, wantCode: "timeout", wantCall: "GET /stats/abc"},
		{name: "unknown path", method: "GET", path: "/nope", caller: &fakeCaller{}, wantStatus: 404, wantCode: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := Upstreams{Redirect: tt.caller, Link: tt.caller, Analytics: tt.caller}
			h := newTestGateway(t, up)
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantCode != "" {
				var b struct{ Code string }
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Code != tt.wantCode {
					t.Errorf("body = %s, want JSON code %q", rec.Body, tt.wantCode)
				}
			}
			tt.caller.mu.Lock()
			calls := tt.caller.calls
			tt.caller.mu.Unlock()
			if tt.wantCall == "" && len(calls) > 0 || tt.wantCall != "" && (len(calls) != 1 || calls[0] != tt.wantCall) {
				t.Errorf("upstream calls = %v, want %q", calls, tt.wantCall)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestGatewayCreateForwardsBodyUnchanged(t *testing.T) {
	link := &fakeCaller{reply: jsonReply(201, `{}`)}
	h := newTestGateway(t, Upstreams{Redirect: &fakeCaller{}, Link: link, Analytics: &fakeCaller{}})
	body := `{"url":"https://example.com/x?y=1","account":"acct-1"}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/links", strings.NewReader(body)))
	if rec.Code != 201 || string(link.body) != body {
		t.Errorf("status %d, forwarded %q; want 201 and %q", rec.Code, link.body, body)
	}
}

func TestGatewayRateLimit(t *testing.T) {
	// The stats route allows 10/s (smooth): a burst of 30 must see 429s, with Retry-After.
	h := newTestGateway(t, Upstreams{Redirect: &fakeCaller{}, Link: &fakeCaller{}, Analytics: &fakeCaller{}})
	limited := 0
	for range 30 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/links/abc/stats", nil))
		if rec.Code == http.StatusTooManyRequests {
			limited++
			if rec.Header().Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if limited < 15 {
		t.Errorf("%d of 30 requests rate limited, want most", limited)
	}
}

func FuzzGateway(f *testing.F) {
	f.Add("GET", "/r/abc", "", "")
	f.Add("GET", "/r/%2e%2e", "", "")
	f.Add("POST", "/api/links", `{"url":"https://x"}`, "application/json")
	f.Add("POST", "/api/links", `{"url":`, "application/json")
	f.Add("POST", "/api/links", "\x00\xff", "text/plain")
	f.Add("POST", "/api/links", `[]`, "application/json; charset=utf-8")
	f.Add("GET", "/api/links/"+strings.Repeat("a", 40), "", "")
	f.Add("GET", "/api/links/abc/stats", "", "")
	f.Add("PUT", "/api/links/abc", "{}", "")
	up := &fakeCaller{reply: jsonReply(200, `{}`)}
	h := newTestGateway(f, Upstreams{Redirect: up, Link: up, Analytics: up})
	f.Fuzz(func(t *testing.T, method, path, body, ctype string) {
		if !strings.HasPrefix(path, "/") || path == "/metrics" || path == "/healthz" || path == "/readyz" {
			return
		}
		req, err := http.NewRequest(method, "http://gateway"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d", method, path, rec.Code)
		}
		if rec.Code >= 400 && rec.Code != http.StatusTooManyRequests && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %q: %d with content type %q", method, path, rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}
