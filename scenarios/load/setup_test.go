package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitedGateway answers POST /api/links like the gateway behind a smooth rate limit: one
// creation per interval, the rest 429 with Retry-After: 1. It records every 429 and every
// creation that arrived while a Retry-After it gave was still running.
type limitedGateway struct {
	interval time.Duration

	mu       sync.Mutex
	last     time.Time // last permit
	refused  []time.Time
	early    int // requests inside a Retry-After window, well after the 429 was sent
	created  int
	lastCode int
}

// slack is how long after a 429 a request may still arrive without breaking its Retry-After:
// the creations that were already in flight when it was answered.
const slack = 150 * time.Millisecond

func (g *limitedGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ URL string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	for _, t := range g.refused {
		if now.After(t.Add(slack)) && now.Before(t.Add(time.Second-slack)) {
			g.early++
			break
		}
	}
	if now.Sub(g.last) < g.interval {
		g.refused = append(g.refused, now)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintln(w, `{"error":"rate limit exceeded on route create","code":"rate_limited"}`)
		return
	}
	g.last = now
	g.created++
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"code": "c%d", "url": %q}`, g.created, body.URL)
}

// TestSetupPacesFromRateLimits creates more links than the gateway's create limit admits in a
// burst: setup must slow down on the 429s, wait out every Retry-After, and finish.
func TestSetupPacesFromRateLimits(t *testing.T) {
	g := &limitedGateway{interval: 6 * time.Millisecond} // 166/s smooth, below the starting pace
	srv := httptest.NewServer(g)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Setup(ctx, srv.URL, 150, SetupOptions{Seed: 3})
	if err != nil {
		t.Fatalf("setup refused by the rate limit: %v", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(res.Links) != 150 || g.created != 150 {
		t.Fatalf("%d links, %d created, want 150", len(res.Links), g.created)
	}
	if res.Throttled == 0 || res.Throttled != len(g.refused) {
		t.Errorf("throttled %d, the gateway refused %d: want them equal and > 0 (the start pace is above the limit)", res.Throttled, len(g.refused))
	}
	t.Logf("%d 429s, setup took %s", len(g.refused), res.Took)
	if len(g.refused) > 20 {
		t.Errorf("%d 429s for 150 links: the pace did not come down", len(g.refused))
	}
	if g.early > 0 {
		t.Errorf("%d creations sent inside a Retry-After window", g.early)
	}
	if res.Took <= 0 {
		t.Error("setup did not say how long it took")
	}
}

// TestSetupBoundedWhenAlwaysRefused: a gateway that only answers 429 ends setup with the
// deadline and the last answer, not a hang.
func TestSetupBoundedWhenAlwaysRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":"rate limit exceeded on route create"}`, http.StatusTooManyRequests)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := Setup(ctx, srv.URL, 10, SetupOptions{})
	if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("err = %v, want the deadline and the last 429", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("setup took %s past a 1.5s deadline", d)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name, h string
		want    time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "2", 2 * time.Second},
		{"spaces", " 1 ", time.Second},
		{"date", now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second},
		{"date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"negative", "-5", 0},
		{"capped", "3600", maxRetryAfter},
		{"garbage", "soon", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := retryAfter(c.h, now); got != c.want {
				t.Errorf("retryAfter(%q) = %s, want %s", c.h, got, c.want)
			}
		})
	}
}
