package resilience

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkPipeline measures what the default redirect->link pipeline adds to a call that
// answers at once (no network), against calling directly.
func BenchmarkPipeline(b *testing.B) {
	tel, err := telemetryForBench()
	if err != nil {
		b.Fatal(err)
	}
	def, err := Load("default")
	if err != nil {
		b.Fatal(err)
	}
	ok := func(context.Context) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(""))}, nil
	}
	for _, tc := range []struct {
		name string
		p    EdgePolicy
	}{{"none", EdgePolicy{}}, {"default-redirect-link", def.Edge("redirect->link")},
		// Each adaptive policy alone, then adaptive's and hedged's whole redirect->link pipeline.
		{"adaptive-limiter", EdgePolicy{AdaptiveLimiter: &AdaptiveLimiter{}}},
		{"adaptive-throttler", EdgePolicy{AdaptiveThrottler: &AdaptiveThrottler{}}},
		{"retry-budget", EdgePolicy{Retry: &Retry{MaxRetries: 2}, Budget: &Budget{}}},
		{"retry-no-budget", EdgePolicy{Retry: &Retry{MaxRetries: 2}}},
		{"hedge-not-fired", EdgePolicy{Hedge: &Hedge{Delay: Duration(time.Second)}}},
		{"adaptive-redirect-link", mustBench(b, "adaptive").Edge("redirect->link")},
		{"hedged-redirect-link", mustBench(b, "hedged").Edge("redirect->link")}} {
		p := NewHTTP("a->b", tc.p, tel, nil)
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				resp, err := p.Do(ctx, ok, nil)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}

func mustBench(b *testing.B, name string) *Profile {
	p, err := Load(name)
	if err != nil {
		b.Fatal(err)
	}
	return p
}
