package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports"
)

// TestRunReportsDesignBounds: every run's results.json and summary.md carry the design bounds
// of its scenario under the profile it ran with, warnings included, even when the system never
// came up (they need nothing but the files). No system is started.
func TestRunReportsDesignBounds(t *testing.T) {
	dir := t.TempDir()
	noSystem := func(context.Context, lab.Options) (System, error) { return nil, errors.New("no system in this test") }
	res, err := Run(context.Background(), Options{File: "testdata/loose-threshold.yaml", OutDir: dir, Start: noSystem})
	if err != nil {
		t.Fatal(err)
	}
	d := res.DesignBounds
	if d == nil || d.Profile != "default" || len(d.Streams) != 1 || len(d.Warnings) != 1 ||
		!strings.Contains(d.Warnings[0], `"p(99)<2s" on stream redirect (fault) is looser than the design's worst case 1.01s`) {
		t.Fatalf("design bounds %+v", d)
	}
	if res.Verdict != reports.VerdictError {
		t.Errorf("verdict %s, want error (no system)", res.Verdict)
	}
	back, err := reports.ReadResults(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if back.DesignBounds == nil || back.DesignBounds.Streams[0].WorstMs == nil || *back.DesignBounds.Streams[0].WorstMs != 1010 {
		t.Errorf("results.json design_bounds %+v", back.DesignBounds)
	}
	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "- **warning**: slos[0].thresholds[0]") {
		t.Errorf("summary.md lacks the warning:\n%s", md)
	}
	// A run with another profile is bounded by that one: none bounds nothing, so no warning.
	res, err = Run(context.Background(), Options{File: "testdata/loose-threshold.yaml", Profile: "none", OutDir: t.TempDir(), Start: noSystem})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.DesignBounds; d.Profile != "none" || len(d.Warnings) != 0 || d.Streams[0].WorstMs != nil {
		t.Errorf("profile none: %+v", d)
	}
}
