package gateway

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/systemtest"
)

// TestNoneHasNoHiddenTimeout runs the gateway with profile none, the negative control that
// claims no timeout at all, and checks that none hides in the plumbing: an upstream answering
// after 11 s is waited for (a 10 s response-header timeout or server read deadline would cut
// it), and request headers trickling in over 2.5 s are read (a 2 s read-header deadline would
// drop the connection).
func TestNoneHasNoHiddenTimeout(t *testing.T) {
	systemtest.Integration(t)
	const slowAnswer, slowHeaders = 11 * time.Second, 2500 * time.Millisecond
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/r/slow") {
			time.Sleep(slowAnswer)
		}
		w.Header().Set("Location", "https://example.com/")
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(redirect.Close) // after the parallel subtests
	other := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	gw := systemtest.Start(t, "gateway", Run, map[string]string{
		"RESILIENCE_PROFILE": "none", "REDIRECT_URL": redirect.URL, "LINK_URL": other.URL, "ANALYTICS_URL": other.URL,
	}, "/healthz").URL

	t.Run("slow upstream", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(gw + "/r/slow")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("an upstream answering after %v: gateway said %d %s after %v, want its 302: a hidden timeout cut the call",
				slowAnswer, resp.StatusCode, body, time.Since(start).Round(time.Millisecond))
		}
	})
	t.Run("slow request headers", func(t *testing.T) {
		t.Parallel()
		conn, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: gateway\r\n"))
		time.Sleep(slowHeaders)
		_, _ = conn.Write([]byte("Connection: close\r\n\r\n"))
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(conn)
		if !strings.HasPrefix(string(b), "HTTP/1.1 200") {
			t.Fatalf("headers sent over %v: answer %q, want 200: a hidden read-header deadline dropped the connection", slowHeaders, b)
		}
	})
}
