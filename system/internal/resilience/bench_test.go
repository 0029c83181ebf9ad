package resilience

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
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
	}{{"none", EdgePolicy{}}, {"default-redirect-link", def.Edge("redirect->link")}} {
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
