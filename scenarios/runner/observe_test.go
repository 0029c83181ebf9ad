package runner

import (
	"testing"
	"time"
)

func TestBreakerTransitionsFromLogs(t *testing.T) {
	start := time.Date(2026, 11, 25, 11, 42, 20, 0, time.UTC)
	got := breakerTransitions("testdata/logs", start)
	// The line before the start belongs to the set-up and the garbage line is skipped.
	if len(got) != 2 {
		t.Fatalf("got %d transitions, want 2: %+v", len(got), got)
	}
	if got[0].Edge != "link->billing" || got[0].To != "open" || got[0].AtS < 7.09 || got[0].AtS > 7.1 {
		t.Errorf("first transition %+v, want link->billing to open at 7.094s", got[0])
	}
	if got[1].From != "open" || got[1].To != "half-open" {
		t.Errorf("second transition %+v, want open→half-open", got[1])
	}
}
