package httptoxic

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkHop measures one small keep-alive HTTP exchange through a Toxiproxy proxy with no
// toxic, then with each request-level toxic at share 0 (every request parsed and paired,
// none affected): the difference is what following HTTP costs per request.
func BenchmarkHop(b *testing.B) {
	for _, typ := range []string{"plain", TypeLatency, TypeError, TypeReset} {
		b.Run(typ, func(b *testing.B) {
			l := newLab(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "https://example.com/")
				w.WriteHeader(http.StatusFound)
			}))
			if typ != "plain" {
				a := Attrs{Share: 0}
				switch typ {
				case TypeError:
					a.Status = 503
				case TypeLatency:
					a.Latency = 1000
				}
				if _, err := Add(l.proxy, typ, unique("bench"), a); err != nil {
					b.Fatal(err)
				}
			}
			c := keepAliveClient(b)
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			url := "http://" + l.addr + "/r/abc"
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
