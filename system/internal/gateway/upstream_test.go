package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

func TestUpstreamRetriesAndRedirects(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		status     int // what the peer always answers
		wantStatus int
		wantCalls  int64
	}{
		{"302 relayed, not followed", "GET", 302, 302, 1},
		{"404 not retried", "GET", 404, 404, 1},
		{"GET 503 retried", "GET", 503, 503, 3},
		{"POST 503 not retried", "POST", 503, 503, 1},
		{"POST 201", "POST", 201, 201, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tt.status == 302 {
					w.Header().Set("Location", "https://example.com/far")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			defer peer.Close()
			tel, err := telemetry.Setup(context.Background(), "gateway", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := loadProfile(t)
			up := NewUpstream(peer.URL, EdgeLink, p.Edge(EdgeLink), httpx.NewClient(tel, EdgeLink, "link", 0), tel, nil)
			var body []byte
			if tt.method == "POST" {
				body = []byte(`{}`)
			}
			rep, err := up.Call(context.Background(), tt.method, "/links/abc", body)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != tt.wantStatus || calls.Load() != tt.wantCalls {
				t.Errorf("status %d after %d calls, want %d after %d", rep.Status, calls.Load(), tt.wantStatus, tt.wantCalls)
			}
			if tt.status == 302 && rep.Header.Get("Location") != "https://example.com/far" {
				t.Errorf("Location = %q", rep.Header.Get("Location"))
			}
			if string(rep.Body) != `{"ok":true}` {
				t.Errorf("body = %q", rep.Body)
			}
		})
	}
}

func TestUpstreamBreakerOpens(t *testing.T) {
	var calls atomic.Int64
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer peer.Close()
	tel, err := telemetry.Setup(context.Background(), "gateway", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := loadProfile(t) // gateway->redirect: breaker window 4, ratio 0.5
	up := NewUpstream(peer.URL, EdgeRedirect, p.Edge(EdgeRedirect), httpx.NewClient(tel, EdgeRedirect, "redirect", 0), tel, nil)
	var open int
	for range 10 {
		if _, err := up.Call(context.Background(), "GET", "/r/abc", nil); errors.Is(err, resilience.ErrOpen) {
			open++
		}
	}
	if open == 0 {
		t.Fatalf("breaker never opened after %d failing calls", calls.Load())
	}
	if calls.Load() >= 10 {
		t.Errorf("peer called %d times; an open breaker should have spared it", calls.Load())
	}
}

// TestRetriesCarryOneRequestKey: every attempt of one call carries the same request key, so
// redirect records one click however often the gateway retries (flapping-connections: a reset
// after redirect answered made the retry a second click, judged against the client's 302s).
func TestRetriesCarryOneRequestKey(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get(httpx.HeaderRequestKey))
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer peer.Close()
	tel, err := telemetry.Setup(context.Background(), "gateway", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := loadProfile(t)
	for _, key := range []string{"0123456789abcdef", "fedcba9876543210"} {
		keys = nil
		up := NewUpstream(peer.URL, EdgeLink, p.Edge(EdgeLink), httpx.NewClient(tel, EdgeLink, "link", 0), tel, nil) // the test profile retries GETs on this edge
		if _, err := up.Call(httpx.WithRequestKey(context.Background(), key), http.MethodGet, "/r/abc", nil); err != nil {
			t.Fatal(err)
		}
		if len(keys) < 2 {
			t.Fatalf("%d attempts, want a retry", len(keys))
		}
		for i, k := range keys {
			if k != key {
				t.Errorf("attempt %d carried key %q, want %q", i+1, k, key)
			}
		}
	}
}
