package bounds

import (
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// TestCatalogueWithinDesignBounds: no catalogue threshold is looser than the design bound of
// the profile it runs with (docs/scenario-format.md "Design bounds"): a threshold that
// slowness cannot fail lets a mis-set timeout pass.
func TestCatalogueWithinDesignBounds(t *testing.T) {
	all, err := scenarios.LoadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no catalogue scenarios")
	}
	for _, sc := range all {
		for _, s := range Check(sc, profile(t, sc.Profile)) {
			for _, th := range s.Thresholds {
				if th.Status == Looser {
					t.Errorf("%s:%d:%d: %s", sc.File, th.Pos.Line, th.Pos.Col, s.Warning(th))
				}
			}
		}
	}
}
