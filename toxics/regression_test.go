package toxics

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"
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
