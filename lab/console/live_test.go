package console

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/reports/traces"
)

// TestNoPageNoWork: with no page open the console computes no view (it reads no spans), so
// it costs the lab nothing; a page opening gets a fresh view at once, and so does a plain
// GET /api/state.
func TestNoPageNoWork(t *testing.T) {
	var reads atomic.Int64
	led := ledger.New(&fakeEnv{paused: map[string]bool{}}, ledger.Options{})
	s, err := Start(Options{Token: token, Ledger: led, Tick: 20 * time.Millisecond,
		Spans: func() []traces.Span { reads.Add(1); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	time.Sleep(100 * time.Millisecond)
	idle := reads.Load()
	time.Sleep(300 * time.Millisecond) // 15 ticks
	if n := reads.Load(); n != idle {
		t.Fatalf("no page open, yet the view read the spans %d times in 15 ticks", n-idle)
	}
	before := s.live.current().Seq
	ch, unsubscribe := s.live.subscribe()
	<-ch // the last view
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatal("a page that opened got no fresh view")
	}
	time.Sleep(200 * time.Millisecond)
	if v := s.live.current(); v.Seq < before+5 {
		t.Errorf("with a page open the view refreshed to seq %d from %d in 10 ticks", v.Seq, before)
	}
	unsubscribe()
	time.Sleep(50 * time.Millisecond)
	idle = reads.Load()
	req, _ := http.NewRequest(http.MethodGet, s.Base()+"/api/state", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || reads.Load() == idle {
		t.Errorf("GET /api/state: %s after %d span reads, want 200 after a fresh view", resp.Status, reads.Load()-idle)
	}
}

// TestFailureRefreshesBetweenTicks: a failed call's span refreshes an open page before the
// next tick (the view peeks at new spans eight times a tick and refreshes at most four), so
// a request error is on the page within about three eighths of a tick, not a whole one.
func TestFailureRefreshesBetweenTicks(t *testing.T) {
	const tick = 2 * time.Second
	var mu sync.Mutex
	var spans []traces.Span
	led := ledger.New(&fakeEnv{paused: map[string]bool{}}, ledger.Options{})
	s, err := Start(Options{Token: token, Ledger: led, Tick: tick, Spans: func() []traces.Span {
		mu.Lock()
		defer mu.Unlock()
		return spans[:len(spans):len(spans)]
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ch, unsubscribe := s.live.subscribe()
	defer unsubscribe()
	<-ch
	<-ch                              // the fresh view a new page gets
	time.Sleep(50 * time.Millisecond) // a last error at the console's 0 ms would read as none
	fed := time.Now()
	mu.Lock()
	spans = append(spans, call(1, "gateway->link", fed, true))
	mu.Unlock()
	deadline := time.After(2 * tick)
	for {
		select {
		case <-ch:
			for _, e := range s.live.current().Edges {
				if e.Name == "gateway->link" && e.LastErrorS > 0 {
					if d := time.Since(fed); d > tick/2 {
						t.Errorf("the failed call was on the page %v after it came; the tick is %v", d, tick)
					}
					return
				}
			}
		case <-deadline:
			t.Fatal("the failed call never reached the page")
		}
	}
}
