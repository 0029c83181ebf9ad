package runner

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// TestAbortSeesATotalBlackhole: with client->gateway blackholed no request is ever answered,
// so only the requests in flight show the hang. The abort must fire within its for + the 1 s
// window + 1 s of the fault landing, heal within 1 s, and end the run as aborted (the live
// window used to show `0/s p99 - err 0.0%` for the whole fault, and the run went on).
func TestAbortSeesATotalBlackhole(t *testing.T) {
	bin := needSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := &teeLog{t: t}
	res, err := Run(ctx, Options{File: "testdata/blackhole-abort.yaml", OutDir: t.TempDir(), Binary: bin,
		Log: log, Settle: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != reports.VerdictAborted || res.Abort == nil {
		t.Fatalf("verdict %s, abort %+v; want aborted (reasons %v)", res.Verdict, res.Abort, res.Reasons)
	}
	if len(res.Faults) != 1 || res.Faults[0].AppliedAt < 0 {
		t.Fatalf("fault timeline %+v: want the blackhole applied", res.Faults)
	}
	f := res.Faults[0]
	const forS, windowS = 2.0, 1.0
	if late := res.Abort.AtS - f.AppliedAt; late > forS+windowS+1 {
		t.Errorf("aborted %.2fs after the blackhole landed (at %.2fs), want <= %.0fs", late, f.AppliedAt, forS+windowS+1)
	}
	if res.Abort.HealedInS > 1 {
		t.Errorf("healing took %.2fs after the abort, want <= 1 s", res.Abort.HealedInS)
	}
	if f.HealedAt < 0 || f.HealedAt > res.Abort.AtS+1 {
		t.Errorf("blackhole healed at %.2fs, abort at %.2fs: want within 1 s", f.HealedAt, res.Abort.AtS)
	}
	if !strings.Contains(log.String(), "inflight") {
		t.Error("the progress line does not show requests in flight")
	}
}

// teeLog sends the runner's progress to the test log and keeps a copy; the runner writes from
// several goroutines.
type teeLog struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *teeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	return testLog{l.t}.Write(p)
}

func (l *teeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
