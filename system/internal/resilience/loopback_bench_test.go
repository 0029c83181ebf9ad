package resilience

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkPipelineOverLoopback measures what a pipeline adds to a real HTTP call over
// loopback (a goroutine that parks on the socket and is woken by it), sequential calls: the
// cost the in-memory BenchmarkPipeline cannot see.
func BenchmarkPipelineOverLoopback(b *testing.B) {
	tel, err := telemetryForBench()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://example.com/")
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(ctx context.Context) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/r/abc", nil)
		if err != nil {
			return nil, err
		}
		return client.Do(req)
	}
	for _, tc := range []struct {
		name string
		p    EdgePolicy
	}{{"none", EdgePolicy{}},
		{"bulkhead", EdgePolicy{Bulkhead: &Bulkhead{MaxConcurrent: 1024, MaxWait: Duration(10 * time.Millisecond)}}},
		{"timeout", EdgePolicy{Timeout: Duration(500 * time.Millisecond)}},
		{"default-gateway-redirect", mustBench(b, "default").Edge("gateway->redirect")}} {
		p := NewHTTP("a->b", tc.p, tel, nil)
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				resp, err := p.Do(ctx, call, nil)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
