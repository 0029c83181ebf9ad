package lab

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// BenchmarkProxyHop measures what one proxy hop adds to a small sequential HTTP exchange on
// loopback: direct, through a Toxiproxy proxy with no toxic, and through the plainest Go
// proxy (two io.Copy). The gap between the last two is Toxiproxy's own cost; the gap between
// direct and plain is what any user-space hop costs on this machine.
func BenchmarkProxyHop(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://example.com/")
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	upstream := srv.Listener.Addr().String()

	tp := toxiproxy.NewProxy(toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop()), "hop", "127.0.0.1:0", upstream)
	if err := tp.Start(); err != nil {
		b.Fatal(err)
	}
	defer tp.Stop()
	plain := plainProxy(b, upstream)

	for _, v := range []struct{ name, addr string }{{"direct", upstream}, {"toxiproxy", tp.Listen}, {"plain-copy", plain}} {
		b.Run(v.name, func(b *testing.B) {
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			defer c.CloseIdleConnections()
			url := "http://" + v.addr + "/r/abc"
			for i := 0; i < b.N; i++ {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

func plainProxy(b *testing.B, upstream string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", upstream, time.Second)
			if err != nil {
				in.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(out, in); out.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return ln.Addr().String()
}
