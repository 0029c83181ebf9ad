package runner

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// TestSetupThroughTheCreateRateLimit runs a 150-link setup on the real system. With the
// aggressive profile (create: 300/s smooth) the unpaced setup was refused at once ("link 1:
// status 429 … rate limit exceeded on route create"); tight-create (100/s smooth) is below
// the setup's starting pace, so it must meet 429s and wait them out. Either way it must
// finish, say how long it took, and the warm-up's redirects must be clicks analytics counted.
// With warm_cache: false nothing is resolved, and the click lines have nothing to check.
func TestSetupThroughTheCreateRateLimit(t *testing.T) {
	bin := needSystem(t)
	tight, err := filepath.Abs("testdata/tight-create.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, profile string
		warm, throttled     bool
	}{
		{"aggressive", "testdata/setup-150.yaml", "aggressive", true, false},
		{"tight create limit", "testdata/setup-150.yaml", tight, true, true},
		{"cold cache", "testdata/setup-cold.yaml", "default", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var log strings.Builder
			res, err := Run(ctx, Options{File: tc.file, Profile: tc.profile, OutDir: t.TempDir(), Binary: bin,
				Log: io.MultiWriter(testLog{t}, &log), Settle: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if tc.throttled && strings.Contains(log.String(), "(0 answers 429 waited out)") {
				t.Errorf("a create limit below the starting pace, and no 429 was waited out:\n%s", log.String())
			}
			if res.Verdict != reports.VerdictPass {
				t.Fatalf("verdict %s, want pass: %v", res.Verdict, res.Reasons)
			}
			if res.SetupS <= 0 || res.SetupS > 60 {
				t.Errorf("setup_s = %.2f, want the setup's time", res.SetupS)
			}
			ds := res.DataSafety
			if ds == nil || ds.LinksAcked != 150 || ds.LostLinks != 0 || !ds.Settled {
				t.Fatalf("data safety %+v, want 150 links acknowledged, none lost, settled", ds)
			}
			if tc.warm {
				if ds.ClicksAcked != 150 || ds.ClicksCounted != 150 || ds.MissingClicks != 0 || ds.DuplicateClicks != 0 {
					t.Errorf("warm-up: %d redirects received, %d counted, missing %d, duplicates %d; want 150 each counted once",
						ds.ClicksAcked, ds.ClicksCounted, ds.MissingClicks, ds.DuplicateClicks)
				}
				return
			}
			if ds.ClicksAcked != 0 || ds.ClicksCounted != 0 {
				t.Errorf("cold cache: %d redirects received, %d counted; want none", ds.ClicksAcked, ds.ClicksCounted)
			}
			if !strings.Contains(res.Reasons[0], "had nothing to check") {
				t.Errorf("reason %q: the click lines had nothing to check", res.Reasons[0])
			}
		})
	}
}
