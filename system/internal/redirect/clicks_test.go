package redirect

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/httpx"
)

// fakeBroker records published clicks; fail decides per call whether the publish fails.
type fakeBroker struct {
	mu    sync.Mutex
	got   []Click
	calls atomic.Int64
	fail  func(n int64) bool
	block chan struct{} // when non-nil, publishes wait for it or ctx
}

func (b *fakeBroker) publish(ctx context.Context, c Click) error {
	n := b.calls.Add(1)
	if b.block != nil {
		select {
		case <-b.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if b.fail != nil && b.fail(n) {
		return errors.New("broker down")
	}
	b.mu.Lock()
	b.got = append(b.got, c)
	b.mu.Unlock()
	return nil
}

func TestClicksPublishesAndCountsAcked(t *testing.T) {
	b := &fakeBroker{}
	c := NewClicks(b.publish, ClickOptions{Size: 100, Workers: 3})
	for _, code := range []string{"a", "a", "b"} {
		if !c.Enqueue(context.Background(), code, "https://x") {
			t.Fatalf("Enqueue(%q) dropped", code)
		}
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := c.Stats()
	if s.AckedTotal != 3 || s.PublishedTotal != 3 || s.Acked["a"] != 2 || s.Acked["b"] != 1 {
		t.Errorf("stats = %+v, want a:2 b:1 total 3", s)
	}
	ids := map[string]bool{}
	for _, ck := range b.got {
		ids[ck.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("%d distinct event ids, want 3", len(ids))
	}
}

func TestClicksFullBufferDropsWithoutBlocking(t *testing.T) {
	b := &fakeBroker{block: make(chan struct{})}
	var hookDrops atomic.Int64
	c := NewClicks(b.publish, ClickOptions{Size: 2, Workers: 1, Hooks: ClickHooks{
		Dropped: func(cause string) {
			if cause == DropBufferFull {
				hookDrops.Add(1)
			}
		},
	}})
	// The single worker takes one click and blocks on it; two more fill the buffer.
	c.Enqueue(context.Background(), "a", "u")
	waitFor(t, func() bool { return b.calls.Load() == 1 })
	start := time.Now()
	accepted := 0
	for range 10 {
		if c.Enqueue(context.Background(), "a", "u") {
			accepted++
		}
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Enqueue blocked for %v", d)
	}
	if accepted != 2 {
		t.Errorf("accepted %d, want 2 (buffer size)", accepted)
	}
	close(b.block)
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := c.Stats()
	if s.Dropped[DropBufferFull] != 8 || hookDrops.Load() != 8 {
		t.Errorf("dropped = %v (hook %d), want buffer_full 8", s.Dropped, hookDrops.Load())
	}
	if s.AckedTotal != 3 {
		t.Errorf("acked = %d, want 3", s.AckedTotal)
	}
}

func TestClicksRetriesThenCountsPublishError(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(n int64) bool
		wantAcked int64
		wantErrs  int64
		wantCalls int64
	}{
		{"recovers on retry", func(n int64) bool { return n < 3 }, 1, 0, 3},
		{"gives up after attempts", func(int64) bool { return true }, 0, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBroker{fail: tt.fail}
			c := NewClicks(b.publish, ClickOptions{Size: 4, Workers: 1, Attempts: 3, Backoff: time.Millisecond})
			c.Enqueue(context.Background(), "a", "u")
			if err := c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := c.Stats()
			if s.AckedTotal != tt.wantAcked || s.Dropped[DropPublishError] != tt.wantErrs || b.calls.Load() != tt.wantCalls {
				t.Errorf("acked %d publish_error %d calls %d; want %d %d %d",
					s.AckedTotal, s.Dropped[DropPublishError], b.calls.Load(), tt.wantAcked, tt.wantErrs, tt.wantCalls)
			}
		})
	}
}

func TestClicksCloseIsBounded(t *testing.T) {
	b := &fakeBroker{block: make(chan struct{})} // never unblocks
	c := NewClicks(b.publish, ClickOptions{Size: 10, Workers: 2, AttemptTTL: time.Hour})
	for range 5 {
		c.Enqueue(context.Background(), "a", "u")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	s := c.Stats()
	if s.Dropped[DropPublishError] != 5 || s.AckedTotal != 0 {
		t.Errorf("stats = %+v, want 5 publish_error", s)
	}
	if c.Enqueue(context.Background(), "a", "u") {
		t.Error("Enqueue after Close accepted a click")
	}
}

func TestNewEventIDShape(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := NewEventID()
		if !re.MatchString(id) {
			t.Fatalf("id %q is not a v4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 2s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRequestKeyIsTheClickID: a request key becomes the click's event id (a gateway retry of
// one request is one click for JetStream and analytics); without one, every click is new.
func TestRequestKeyIsTheClickID(t *testing.T) {
	b := &fakeBroker{}
	c := NewClicks(b.publish, ClickOptions{Size: 10, Workers: 1})
	keyed := withClickID(context.Background(), "0123456789abcdef")
	c.Enqueue(keyed, "a", "https://x")
	c.Enqueue(keyed, "a", "https://x")
	c.Enqueue(withClickID(context.Background(), ""), "a", "https://x")
	c.Enqueue(context.Background(), "a", "https://x")
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, ck := range b.got {
		ids[ck.ID]++
	}
	if ids["0123456789abcdef"] != 2 || len(ids) != 3 {
		t.Errorf("event ids %v: want the key twice and two fresh ids", ids)
	}
}

func TestRequestKeyValidated(t *testing.T) {
	for key, want := range map[string]string{
		"0123456789abcdef": "0123456789abcdef", "123e4567-e89b-12d3-a456-426614174000": "123e4567-e89b-12d3-a456-426614174000",
		"": "", "short": "", "not-hex-zzzzzzzz": "", strings.Repeat("a", 65): "",
	} {
		r := httptest.NewRequest(http.MethodGet, "/r/abc", nil)
		r.Header.Set(httpx.HeaderRequestKey, key)
		if got := httpx.RequestKey(r); got != want {
			t.Errorf("RequestKey(%q) = %q, want %q", key, got, want)
		}
	}
}
