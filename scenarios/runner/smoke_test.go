package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/runqueue"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/reports"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

func needSystem(t *testing.T) string { return testbin.NeedSystem(t) }

// TestSmokeVerdictHasPower runs the smoke scenario (with shorter phases: the CI catalogue runs
// smoke.yaml itself) twice on the real system: with the default profile it must pass, and
// with profile none (no timeout, no fallback) it must fail on the create SLO of the fault
// phase — the negative control that proves the pass means something.
func TestSmokeVerdictHasPower(t *testing.T) {
	bin := needSystem(t)
	cases := []struct {
		profile, want string
		reason        string // a failing run must fail for this reason
	}{
		{"default", reports.VerdictPass, ""},
		{"none", reports.VerdictFail, "SLO create p(99)<500ms in fault"},
	}
	for _, tc := range cases {
		t.Run(tc.profile, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out := t.TempDir()
			res, err := Run(ctx, Options{File: "../testdata/smoke-short.good.yaml", Profile: tc.profile, OutDir: out, Binary: bin, ExpectVerdict: tc.want, Log: testLog{t}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want {
				t.Fatalf("profile %s: verdict %s, want %s; reasons: %v", tc.profile, res.Verdict, tc.want, res.Reasons)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(res.Reasons, "\n"), tc.reason) {
				t.Fatalf("profile %s failed for the wrong reason: %v", tc.profile, res.Reasons)
			}
			if !res.AsExpected {
				t.Fatal("as_expected is false")
			}
			for _, f := range []string{"results.json", "junit.xml", "summary.md", "report.html", "samples.csv", "spans.jsonl", "scenario.yaml"} {
				if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
					t.Errorf("run directory lacks %s: %v", f, err)
				}
			}
			if res.DataSafety == nil || res.DataSafety.LinksAcked == 0 || res.DataSafety.ClicksAcked == 0 {
				t.Errorf("data safety checked nothing: %+v", res.DataSafety)
			}
			if res.Telemetry == nil || res.Telemetry.SpansReceived == 0 {
				t.Errorf("no spans received: %+v", res.Telemetry)
			}
			// Conformance is judged in every run; the default profile's fault exercises
			// link->billing's timeout, retry, breaker and fallback, with no false failure.
			if c := res.Conformance; c == nil || c.Failed != 0 || (tc.profile == "default" && c.Passed < 5) {
				t.Errorf("conformance = %+v, want no failure and, with the default profile, the link->billing checks passed", c)
			}
			// The services are this machine's processes: their threads' waits for a CPU were
			// read throughout the load (the timing checks' allowance for the machine).
			if runqueue.Supported() {
				got := map[string]int{}
				for _, w := range res.CPUWaits {
					got[w.Service] = w.Intervals
				}
				for _, svc := range services {
					// 20 ms readings over the scenario's load: most of its intervals.
					if want := int(res.DurationS * 1000 / 20 / 2); got[svc] < want {
						t.Errorf("cpu_waits of %s: %d intervals, want at least %d over %.1f s (%+v)", svc, got[svc], want, res.DurationS, res.CPUWaits)
					}
				}
			}
		})
	}
}

// testLog sends the runner's progress to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
