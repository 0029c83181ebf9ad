package toxics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Toxiproxy #148: a toxic must also act on connections that were open before it was added
// (keep-alive pools are what services use).
func TestToxicActsOnOpenConnections(t *testing.T) {
	e := newTestEnv(t)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	get := func() time.Duration {
		start := time.Now()
		resp, err := c.Get("http://" + e.listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	get() // opens the connection the next request reuses
	undo, err := mustNew(t, "latency", map[string]any{"latency": "80ms"}).Apply(context.Background(), e, "client->echo")
	if err != nil {
		t.Fatal(err)
	}
	defer undo(context.Background())
	if d := get(); d < 70*time.Millisecond {
		t.Errorf("request on an open connection took %v after a latency toxic of 80ms", d)
	}
}

// Toxiproxy #232: a latency toxic at low toxicity must not make memory grow with traffic.
func TestLowToxicityLatencyMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("traffic test")
	}
	e := newTestEnv(t)
	undo, err := mustNew(t, "latency", map[string]any{"latency": "1ms", "toxicity": 0.01}).Apply(context.Background(), e, "client->echo")
	if err != nil {
		t.Fatal(err)
	}
	defer undo(context.Background())
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	burst := func(n int) {
		for i := 0; i < n; i++ {
			resp, err := c.Get("http://" + e.listen + "/")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	burst(300) // warm up pools
	before := heap()
	burst(3000)
	if after := heap(); after > before+8<<20 {
		t.Errorf("heap grew from %d to %d bytes over 3000 requests", before, after)
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{`"100ms"`, 100 * time.Millisecond, false},
		{`" 2s "`, 2 * time.Second, false},
		{`250`, 250 * time.Millisecond, false},
		{`0.5`, 500 * time.Microsecond, false},
		{`"fast"`, 0, true},
		{`true`, 0, true},
		{`"100"`, 0, true}, // a string needs a unit
		{`1e300`, 0, true},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalJSON([]byte(tt.in))
		if (err != nil) != tt.wantErr || (!tt.wantErr && d.D() != tt.want) {
			t.Errorf("%s: got %v err %v, want %v err %v", tt.in, d.D(), err, tt.want, tt.wantErr)
		}
	}
	b, _ := Duration(1500 * time.Millisecond).MarshalJSON()
	if string(b) != `"1.5s"` {
		t.Errorf("marshal: %s", b)
	}
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{`"100ms"`, `250`, `"-1s"`, `1e300`, `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Duration
		if err := d.UnmarshalJSON(b); err != nil {
			return
		}
		// What decodes must encode and decode to the same value.
		out, err := d.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := back.UnmarshalJSON(out); err != nil || back != d {
			t.Fatalf("%s → %s → %v (%v)", b, out, back.D(), err)
		}
	})
}

// networkHeals are the network faults whose undo talks to Toxiproxy: one adds toxics, the
// other disables the proxy.
var networkHeals = []struct {
	name   string
	params map[string]any
}{
	{"latency", map[string]any{"latency": "50ms"}},
	{"partition", nil},
}

// Issue point 10: a heal against an unreachable Toxiproxy was recorded as healed, because any
// error looking the proxy up was taken for "the proxy went away". Only Toxiproxy's own 404
// means gone; a refused connection is a heal that failed.
func TestHealAgainstUnreachableToxiproxyFails(t *testing.T) {
	for _, c := range networkHeals {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t)
			ctx := context.Background()
			undo, err := mustNew(t, c.name, c.params).Apply(ctx, e, "client->echo")
			if err != nil {
				t.Fatal(err)
			}
			e.stop()
			start := time.Now()
			err = undo(ctx)
			if err == nil {
				t.Fatal("heal reported success against a Toxiproxy that is not there")
			}
			if !strings.Contains(err.Error(), "client->echo") {
				t.Errorf("error %q does not name the edge", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("a refused heal took %v to give up", d)
			}
			if err := undo(ctx); err == nil {
				t.Error("a second heal succeeded though nothing was healed (onceUndo must retry after a failure)")
			}
		})
	}
}

// A proxy that is really gone (Toxiproxy answers 404) takes its toxics with it: the heal has
// nothing left to do and succeeds.
func TestHealOfDeletedProxySucceeds(t *testing.T) {
	for _, c := range networkHeals {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t)
			ctx := context.Background()
			undo, err := mustNew(t, c.name, c.params).Apply(ctx, e, "client->echo")
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.client.Proxy("client->echo")
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Delete(); err != nil {
				t.Fatal(err)
			}
			if err := undo(ctx); err != nil {
				t.Errorf("heal of a deleted proxy: %v", err)
			}
		})
	}
}

// flakyEnv fails the first proxy lookups as an unreachable Toxiproxy would, then answers.
type flakyEnv struct {
	*testEnv
	mu    sync.Mutex
	fails int
}

func (f *flakyEnv) Proxy(edge string) (*toxiclient.Proxy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("fail to request: dial tcp 127.0.0.1:1: connect: connection refused")
	}
	return f.testEnv.Proxy(edge)
}

// A heal retries briefly before giving up: a Toxiproxy that refuses twice and then answers is
// healed, and the toxic or the partition is really gone.
func TestHealRetriesTransientErrors(t *testing.T) {
	for _, c := range networkHeals {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t)
			env := &flakyEnv{testEnv: e}
			ctx := context.Background()
			undo, err := mustNew(t, c.name, c.params).Apply(ctx, env, "client->echo")
			if err != nil {
				t.Fatal(err)
			}
			env.mu.Lock()
			env.fails = 2
			env.mu.Unlock()
			if err := undo(ctx); err != nil {
				t.Fatalf("heal after two refusals: %v", err)
			}
			p, err := e.client.Proxy("client->echo")
			if err != nil {
				t.Fatal(err)
			}
			if len(p.ActiveToxics) != 0 || !p.Enabled {
				t.Errorf("after the heal: toxics %+v, enabled %v", p.ActiveToxics, p.Enabled)
			}
		})
	}
}
