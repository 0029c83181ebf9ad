package runner

import (
	"testing"

	"github.com/faultline/faultline/scenarios/load"
)

// On a system an earlier run used (the explorer reuses one), analytics still counts that
// run's clicks: only what it counted since this run began is compared with this run's
// redirects, and a surplus on an old code during this run is still a duplicate.
func TestClicksOfAnEarlierRunAreNotDuplicates(t *testing.T) {
	counted := sinceBaseline(map[string]int{"old": 31, "both": 9, "new": 4}, map[string]int{"old": 30, "both": 5, "gone": 2})
	clicks := map[string]load.Clicks{"both": {Redirected: 4}, "new": {Redirected: 4}}
	missing, dups, gaps := clickGaps(clicks, counted)
	if missing != 0 || dups != 1 || len(gaps) != 1 || gaps[0] != "old" {
		t.Fatalf("missing %d duplicates %d gaps %v, want 0, 1 on old", missing, dups, gaps)
	}
	if got := sinceBaseline(nil, map[string]int{"x": 1}); len(got) != 0 { // no counts at all: no panic
		t.Errorf("since baseline of nothing = %v", got)
	}
}
