package redirect

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/faultline/faultline/system/internal/telemetry"
)

func TestResolver(t *testing.T) {
	linkDown := errors.New("link: 503")
	tests := []struct {
		name       string
		cached     map[string]string
		redisDown  bool
		links      map[string]string
		linkErr    error
		stale      map[string]string // preloaded stale_cache; nil = fallback disabled
		code       string
		want       Resolution
		wantErr    error
		wantCalls  int
		wantCached string // what Redis holds for code afterwards ("" = nothing)
	}{
		{name: "hit", cached: map[string]string{"a": "https://a"}, code: "a",
			want: Resolution{URL: "https://a", Hit: true}, wantCalls: 0, wantCached: "https://a"},
		{name: "miss fills cache", links: map[string]string{"a": "https://a"}, code: "a",
			want: Resolution{URL: "https://a"}, wantCalls: 1, wantCached: "https://a"},
		{name: "unknown is cached negative", links: map[string]string{}, code: "zz",
			wantErr: ErrNotFound, wantCalls: 1, wantCached: notFoundValue},
		{name: "negative hit skips link", cached: map[string]string{"zz": notFoundValue}, code: "zz",
			wantErr: ErrNotFound, wantCalls: 0, wantCached: notFoundValue},
		{name: "redis down is a miss", redisDown: true, links: map[string]string{"a": "https://a"}, code: "a",
			want: Resolution{URL: "https://a"}, wantCalls: 1},
		{name: "link down without fallback", linkErr: linkDown, code: "a",
			wantErr: ErrUnavailable, wantCalls: 1},
		{name: "link down, stale entry", linkErr: linkDown, stale: map[string]string{"a": "https://old"}, code: "a",
			want: Resolution{URL: "https://old", Stale: true}, wantCalls: 1},
		{name: "link down, stale has other code", linkErr: linkDown, stale: map[string]string{"b": "https://b"}, code: "a",
			wantErr: ErrUnavailable, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := newMemCache()
			for k, v := range tt.cached {
				cache.m[k] = v
			}
			links := &fakeLinks{urls: tt.links, err: tt.linkErr}
			r := &Resolver{Cache: cache, Links: links}
			if tt.stale != nil {
				r.Stale = newStaleCache(8)
				for k, v := range tt.stale {
					r.Stale.Put(k, v)
				}
			}
			cache.down = tt.redisDown
			got, err := r.Resolve(context.Background(), tt.code)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if links.calls != tt.wantCalls {
				t.Errorf("link called %d times, want %d", links.calls, tt.wantCalls)
			}
			cache.down = false
			if v := cache.m[tt.code]; v != tt.wantCached {
				t.Errorf("cache holds %q, want %q", v, tt.wantCached)
			}
		})
	}
}

func TestResolverStaleLearnsFromResolutions(t *testing.T) {
	links := &fakeLinks{urls: map[string]string{"a": "https://a"}}
	r := &Resolver{Cache: newMemCache(), Links: links, Stale: newStaleCache(8)}
	if _, err := r.Resolve(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	// Link and Redis both go away: the code resolved a moment ago still redirects.
	links.err = errors.New("link down")
	r.Cache.(*memCache).down = true
	got, err := r.Resolve(context.Background(), "a")
	if err != nil || !got.Stale || got.URL != "https://a" {
		t.Errorf("got %+v, %v; want stale https://a", got, err)
	}
}

// TestStaleFallbackNamesItsEdge: the stale answer is given after the pipeline's span has ended,
// so the event on the current span names the edge whose failure it answers (the lab reads the
// edge from it, docs/contracts.md).
func TestStaleFallbackNamesItsEdge(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("t")
	r := &Resolver{Cache: newMemCache(), Links: &fakeLinks{err: errors.New("link: 503")}, Stale: newStaleCache(8)}
	r.Stale.Put("a", "https://old")
	ctx, span := tracer.Start(context.Background(), "GET /r/{code}")
	if _, err := r.Resolve(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	span.End()
	evs := rec.Ended()[0].Events()
	if len(evs) != 1 || evs[0].Name != telemetry.EventFallback {
		t.Fatalf("events = %+v, want one %s", evs, telemetry.EventFallback)
	}
	got := map[attribute.Key]string{}
	for _, kv := range evs[0].Attributes {
		got[kv.Key] = kv.Value.AsString()
	}
	if got[telemetry.AttrEdge] != EdgeLink || got[telemetry.AttrFallback] != telemetry.FallbackStaleCache {
		t.Fatalf("event attributes = %v, want edge %s, fallback stale_cache", got, EdgeLink)
	}
}
