package console

import (
	"context"
	"net/http"
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
