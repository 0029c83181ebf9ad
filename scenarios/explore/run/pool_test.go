package run

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The span flush ends once the exporters are quiet (no export for SpanQuiet), not after a
// fixed wait; exports that keep coming extend it, up to the bound.
func TestForwarderQuiet(t *testing.T) {
	f, err := startForwarder()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	export := func() {
		resp, err := http.Post(f.URL()+"/v1/traces", "application/x-protobuf", strings.NewReader("x"))
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	}
	ctx := context.Background()
	const quiet, bound = 150 * time.Millisecond, 900 * time.Millisecond

	// nothing arrives: the wait is the quiet period
	begin := time.Now()
	f.Quiet(ctx, begin, quiet, bound)
	if d := time.Since(begin); d < quiet || d > quiet+200*time.Millisecond {
		t.Errorf("quiet exporters: waited %s, want about %s", d, quiet)
	}

	// exports for 400 ms: the wait ends a quiet period after the last one
	begin = time.Now()
	done := make(chan time.Time)
	go func() {
		for time.Since(begin) < 400*time.Millisecond {
			export()
			time.Sleep(50 * time.Millisecond)
		}
		done <- time.Now()
	}()
	f.Quiet(ctx, begin, quiet, bound)
	last := <-done
	if end := time.Now(); end.Sub(last) < quiet-60*time.Millisecond || end.Sub(begin) < 400*time.Millisecond {
		t.Errorf("busy exporters: waited %s, the last export %s before the end", end.Sub(begin), end.Sub(last))
	}

	// exports that never stop: the bound ends the wait (the exporter is waited for before the
	// forwarder closes: an export in flight then would fail after the test ended, a panic)
	stop, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-stop:
				return
			default:
			}
			export()
			time.Sleep(30 * time.Millisecond)
		}
	}()
	begin = time.Now()
	f.Quiet(ctx, begin, quiet, bound)
	close(stop)
	<-exited
	if d := time.Since(begin); d < bound || d > bound+200*time.Millisecond {
		t.Errorf("endless exports: waited %s, want the bound %s", d, bound)
	}
}
