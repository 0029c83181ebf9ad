package hotpath

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/system/profiles"
)

func TestParseWrk(t *testing.T) {
	out, err := os.ReadFile(filepath.Join("testdata", "wrk.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseWrk(string(out))
	if err != nil {
		t.Fatal(err)
	}
	want := WrkResult{Requests: 63094, Window: 15010 * time.Millisecond, P50: 12510 * time.Microsecond, P99: 36 * time.Millisecond,
		Non3xx: 17, SocketErrors: 3}
	want.Rate = float64(want.Requests) / want.Window.Seconds()
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got.Errors() != 20 {
		t.Errorf("Errors() = %d, want 20", got.Errors())
	}
}

func TestParseWrkRefusesIncompleteOutput(t *testing.T) {
	for name, out := range map[string]string{
		"empty":         "",
		"no latency":    "  63094 requests in 15.01s, 6.02MB read\nRequests/sec:   4203.46\n",
		"no requests":   "  Latency Distribution\n     50%   12.51ms\n     99%   36.00ms\n",
		"zero duration": "  Latency Distribution\n     50%   12.51ms\n     99%   36.00ms\n  1 requests in 0.00s, 1MB read\n",
	} {
		t.Run(name, func(t *testing.T) {
			if r, err := ParseWrk(out); err == nil {
				t.Errorf("ParseWrk accepted it: %+v", r)
			}
		})
	}
}

func TestRaiseRateLimitsTouchesOnlyRateLimits(t *testing.T) {
	data, err := profiles.FS.ReadFile("default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raised := string(RaiseRateLimits(data))
	if strings.Contains(raised, "rate_limit: 4000") || !strings.Contains(raised, "rate_limit: 1000000, rate_limit_kind: bursty") {
		t.Errorf("redirect route's limit not raised:\n%s", raised)
	}
	// Every other line is unchanged.
	a, b := strings.Split(string(data), "\n"), strings.Split(raised, "\n")
	if len(a) != len(b) {
		t.Fatalf("%d lines became %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] && !strings.Contains(a[i], "rate_limit:") {
			t.Errorf("line %d changed: %q → %q", i+1, a[i], b[i])
		}
	}
}

func TestWrkScriptCyclesEveryPath(t *testing.T) {
	s := wrkScript([]string{"/r/aaaaaaa", `/r/b"b`})
	for _, want := range []string{`"/r/aaaaaaa",`, `"/r/b\"b",`, "paths[(i % n) + 1]"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
