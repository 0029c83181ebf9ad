package hotpath

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testbin"
)

// Targets of issue 18 for a cached redirect through the whole system on the 2-core machine.
const (
	TargetCPUPerRedirectUs = 250
	TargetRedirectsPerSec  = 7000
	TargetP99              = 15 * time.Millisecond
	TargetDefaultOverNone  = 1.03
)

// BenchmarkHotPath measures (a) the CPU every process burns per cached redirect and (b) the
// redirects/s and p99 wrk gets with the route rate limits raised: `wrk -t2 -c64 -d15s` over
// 200 cached codes, span export on. HOTPATH_PPROF_DIR=DIR also writes a CPU profile of every
// process (DIR/NAME.pprof). Run it alone: it saturates the machine.
//
//	FAULTLINE_BIN=$PWD/bin/faultline go test -run '^$' -bench HotPath -benchtime 1x ./lab/hotpath/
func BenchmarkHotPath(b *testing.B) {
	bin := testbin.NeedSystem(b)
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	o := Options{Binary: bin, Profile: envOr("HOTPATH_PROFILE", "default"), PprofDir: os.Getenv("HOTPATH_PPROF_DIR"),
		StateDir: b.TempDir(), Log: testLog{b}}
	if d, err := time.ParseDuration(os.Getenv("HOTPATH_DURATION")); err == nil {
		o.Duration = d
	}
	for range b.N {
		r, err := Capacity(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		var parts []string
		for _, p := range r.Processes() {
			b.ReportMetric(r.CPUPerRedirect[p], "µs-cpu-"+p)
			parts = append(parts, p+" "+formatUs(r.CPUPerRedirect[p]))
		}
		b.ReportMetric(r.CPUTotal, "µs-cpu/redirect")
		b.ReportMetric(r.Wrk.Rate, "redirects/s")
		b.ReportMetric(float64(r.Wrk.P50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(r.Wrk.P99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(r.Wrk.Errors()), "errors")
		b.Logf("profile %s: %d redirects in %s = %.0f/s, p50 %s p99 %s, %d not 3xx, %d socket errors; CPU per redirect %.0f µs: %s",
			r.Profile, r.Wrk.Requests, r.Wrk.Window, r.Wrk.Rate, r.Wrk.P50, r.Wrk.P99, r.Wrk.Non3xx, r.Wrk.SocketErrors, r.CPUTotal, strings.Join(parts, ", "))
		b.Logf("targets: CPU ≤ %d µs: %v; ≥ %d/s with p99 ≤ %s: %v", TargetCPUPerRedirectUs, r.CPUTotal <= TargetCPUPerRedirectUs,
			TargetRedirectsPerSec, TargetP99, r.Wrk.Rate >= TargetRedirectsPerSec && r.Wrk.P99 <= TargetP99)
	}
}

// BenchmarkProfileRatio measures (c) the p50 of a cached redirect under `default` over the
// same under `none`, two systems side by side, sequential requests interleaved in batches.
//
//	FAULTLINE_BIN=$PWD/bin/faultline go test -run '^$' -bench ProfileRatio -benchtime 1x ./lab/hotpath/
func BenchmarkProfileRatio(b *testing.B) {
	bin := testbin.NeedSystem(b)
	o := Options{Binary: bin, StateDir: b.TempDir(), Log: testLog{b}}
	for range b.N {
		r, err := Ratio(context.Background(), o, "default", "none", 4000)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.AP50.Microseconds()), "p50-µs-default")
		b.ReportMetric(float64(r.BP50.Microseconds()), "p50-µs-none")
		b.ReportMetric(r.Ratio, "default/none")
		b.Logf("%d redirects each: default p50 %s p99 %s (%d errors), none p50 %s p99 %s (%d errors): %.3f× (target ≤ %.2f×: %v)",
			r.Requests, r.AP50, r.AP99, r.AErrors, r.BP50, r.BP99, r.BErrors, r.Ratio, TargetDefaultOverNone, r.Ratio <= TargetDefaultOverNone)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func formatUs(v float64) string { return fmt.Sprintf("%.0f µs", v) }

type testLog struct{ tb testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
