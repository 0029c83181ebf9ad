package systemtest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/localserver"
)

// recorder is a testing.TB that records how a helper stopped the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(f string, a ...any) {
	r.fatal = fmt.Sprintf(f, a...)
	runtime.Goexit()
}
func (r *recorder) Fatal(a ...any) { r.Fatalf("%s", fmt.Sprint(a...)) }
func (r *recorder) Skipf(f string, a ...any) {
	r.skip = fmt.Sprintf(f, a...)
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine, as the testing package would.
func run(f func(tb testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
	return r
}

func TestRequire(t *testing.T) {
	missing := fmt.Errorf("%w: redis-server not found", localserver.ErrMissingBinary)
	tests := []struct {
		name, ci  string
		err       error
		fail, skp bool
	}{
		{"present", "", nil, false, false},
		{"missing outside CI skips", "", missing, false, true},
		{"missing on CI fails", "true", missing, true, false},
		{"other error fails", "", errors.New("boom"), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := run(func(tb testing.TB) { Require(tb, tt.err, "redis-server") })
			if (r.fatal != "") != tt.fail || (r.skip != "") != tt.skp {
				t.Fatalf("fatal %q, skip %q; want fail %v, skip %v", r.fatal, r.skip, tt.fail, tt.skp)
			}
			if tt.err == missing && !strings.Contains(r.fatal+r.skip, "Debian package redis-server; run `make deps`") {
				t.Errorf("message %q does not name the package and make deps", r.fatal+r.skip)
			}
		})
	}
}

func TestMetric(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `# HELP x
cache_requests_total{result="hit",service="redirect"} 7
cache_requests_total{result="miss",service="redirect"} 3
cache_requests_total_other{result="hit"} 99
outbox_pending 2
`)
	}))
	defer srv.Close()
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cache_requests_total", []string{`result="miss"`}, 3},
		{"cache_requests_total", []string{`result="hit"`, `service="redirect"`}, 7},
		{"cache_requests_total", []string{`result="error"`}, 0},
		{"outbox_pending", nil, 2},
		{"absent_total", nil, 0},
	}
	for _, tt := range tests {
		if got := Metric(t, srv.URL, tt.name, tt.labels...); got != tt.want {
			t.Errorf("Metric(%s, %v) = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, "third poll", time.Second, func() (bool, string) { n++; return n == 3, fmt.Sprint(n) })
	if n != 3 {
		t.Fatalf("polled %d times, want 3", n)
	}
	r := run(func(tb testing.TB) {
		Eventually(tb, "never", 50*time.Millisecond, func() (bool, string) { return false, "still false" })
	})
	if !strings.Contains(r.fatal, "never: not within 50ms (last: still false)") {
		t.Fatalf("failure %q", r.fatal)
	}
}
