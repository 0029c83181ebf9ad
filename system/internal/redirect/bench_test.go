package redirect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRedirectHit is the hot path in process: instrumented handler, cache hit, click
// enqueued (publisher acks at once).
func BenchmarkRedirectHit(b *testing.B) {
	cache := newMemCache()
	cache.m["abc"] = "https://example.com/a"
	clicks := NewClicks(func(context.Context, Click) error { return nil }, ClickOptions{Size: 1 << 16})
	defer clicks.Close(context.Background())
	h := NewServer(nil, newTestTelemetry(b), &Resolver{Cache: cache, Links: &fakeLinks{}}, clicks, nil)
	req := httptest.NewRequest(http.MethodGet, "/r/abc", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkClicksEnqueueParallel measures Enqueue under contention with a full buffer, the
// worst case for the hot path (every call drops and counts).
func BenchmarkClicksEnqueueParallel(b *testing.B) {
	block := make(chan struct{})
	clicks := NewClicks(func(ctx context.Context, _ Click) error {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil
	}, ClickOptions{Size: 1024, Workers: 1})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			clicks.Enqueue(ctx, "abc", "u")
		}
	})
	b.StopTimer()
	close(block)
	_ = clicks.Close(ctx)
}
