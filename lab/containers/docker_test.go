package containers

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/dockertest"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/reports"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// TestRunWithDocker runs `faultline run --target containers` on a real engine, as a user does:
// the smoke scenario passes with per-run containers (its latency fault lands and heals, spans
// reach the lab through the forwarder), the process and network faults of
// lab/compose/testdata/docker-faults.yaml land and heal, and afterwards no container, network
// or volume of testcontainers is left. Ryuk is left to the backend: where its image is not
// present (offline) the backend turns it off, which used to fail every run with
// "reaper: ... no such host".
func TestRunWithDocker(t *testing.T) {
	var o Options
	o.defaults(os.Getenv)
	dockertest.Require(t, o.Image, o.ToxiproxyImage, o.PostgresImage, o.RedisImage)
	bin, err := testbin.Path()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const label = "org.testcontainers=true"
	before, err := dockertest.Leftovers(ctx, label)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scenario string
		faults   int
	}{
		{filepath.Join("..", "..", "scenarios", "testdata", "smoke-short.good.yaml"), 1},
		{filepath.Join("..", "compose", "testdata", "docker-faults.yaml"), 3},
	} {
		t.Run(filepath.Base(tc.scenario), func(t *testing.T) {
			out := t.TempDir()
			if base := os.Getenv("FAULTLINE_DOCKER_OUT"); base != "" {
				out = filepath.Join(base, strings.NewReplacer("/", "-").Replace(t.Name()))
				if err := os.RemoveAll(out); err != nil {
					t.Fatal(err)
				}
			}
			begin := time.Now()
			cmd := exec.Command(bin, "run", "--target", "containers", "--plain", "--out", out, tc.scenario)
			b, err := cmd.CombinedOutput()
			t.Logf("BENCH faultline run --target containers %s: %v\n%s", tc.scenario, time.Since(begin).Round(time.Millisecond), b)
			if err != nil {
				t.Fatalf("faultline run: %v (exit 0 means as expected)", err)
			}
			res, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != reports.VerdictPass || !res.AsExpected || !res.Valid {
				t.Errorf("verdict %s, as expected %v, valid %v: %v %v", res.Verdict, res.AsExpected, res.Valid, res.Reasons, res.InvalidReasons)
			}
			if len(res.Faults) != tc.faults {
				t.Errorf("%d faults, want %d: %+v", len(res.Faults), tc.faults, res.Faults)
			}
			for _, f := range res.Faults {
				if f.Error != "" || f.HealedAt <= f.AppliedAt {
					t.Errorf("fault %s on %s: applied %.1fs healed %.1fs error %q", f.Fault, f.Target, f.AppliedAt, f.HealedAt, f.Error)
				}
			}
			if res.Telemetry == nil || res.Telemetry.SpansReceived == 0 {
				t.Errorf("no spans reached the lab: %+v", res.Telemetry)
			}
			dockertest.CPUWaits(t, res)
			if strings.Contains(string(b), "reaper") && strings.Contains(string(b), "no such host") {
				t.Error("the run tried to pull the reaper image")
			}
			after, err := dockertest.Leftovers(ctx, label)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range after {
				if !slices.Contains(before, x) {
					t.Errorf("left behind: %s", x)
				}
			}
		})
	}
}
