package lab

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/toxics"
)

// TestHaltThroughControl: a network fault injected through the control API (the CLI's path)
// lands on the proxy; HALT removes it and any toxic added behind the ledger's back, refuses
// the next inject with the halt's reason, and release lets injects through again.
func TestHaltThroughControl(t *testing.T) {
	stateDir := t.TempDir()
	l, err := Start(context.Background(), Options{Components: []string{}, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	r, err := Attach(stateDir, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lat := ledger.Request{Target: "redirect->link", Fault: "latency", Params: map[string]any{"latency": "100ms"}, Who: "ana"}
	f, err := r.Inject(ctx, lat)
	if err != nil {
		t.Fatal(err)
	}
	if f.ID == 0 || f.Who != "ana" || f.Source != ledger.SourceCLI {
		t.Fatalf("fault %+v", f)
	}
	toxicsOn := func(edge string) int {
		p, err := l.toxi.Proxy(edge)
		if err != nil {
			t.Fatal(err)
		}
		return len(p.ActiveToxics)
	}
	if n := toxicsOn("redirect->link"); n != 1 {
		t.Fatalf("%d toxics after inject, want 1", n)
	}
	// A toxic the ledger never saw (added with the Toxiproxy API directly).
	stray, _ := toxics.New("latency", map[string]any{"latency": "5ms"})
	if _, err := stray.Apply(ctx, l.Env(), "link->link-db"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Inject(ctx, ledger.Request{Target: "redirect->link", Fault: "latency", Params: map[string]any{"latency": "0ms"}}); !errors.Is(err, ledger.ErrInvalid) ||
		!strings.Contains(err.Error(), "latency must be > 0") || strings.Contains(err.Error(), "ledger:") {
		t.Fatalf("invalid inject: %v; want the CLI's message", err)
	}
	if err := r.Halt(ctx, "bo"); err != nil {
		t.Fatal(err)
	}
	if a, b := toxicsOn("redirect->link"), toxicsOn("link->link-db"); a+b != 0 {
		t.Fatalf("toxics left after HALT: %d + %d", a, b)
	}
	if _, err := r.Inject(ctx, lat); !errors.Is(err, ledger.ErrHalted) || !strings.Contains(err.Error(), "halted") {
		t.Fatalf("inject while halted: %v, want ErrHalted", err)
	}
	if toxicsOn("redirect->link") != 0 {
		t.Fatal("a refused inject added a toxic")
	}
	st, err := r.Faults(ctx)
	if err != nil || !st.Halted || st.HaltedBy != "bo" {
		t.Fatalf("faults %+v %v: want halted by bo", st.Snapshot, err)
	}
	if err := r.Release(ctx, "bo"); err != nil {
		t.Fatal(err)
	}
	g, err := r.Inject(ctx, lat)
	if err != nil {
		t.Fatalf("inject after release: %v", err)
	}
	if err := r.HealFault(ctx, g.ID, "bo"); err != nil || toxicsOn("redirect->link") != 0 {
		t.Fatalf("heal #%d: %v, %d toxics left", g.ID, err, toxicsOn("redirect->link"))
	}
	var kinds []string
	for _, e := range st.Timeline {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "inject,halt,heal,refused" {
		t.Fatalf("timeline %s", got)
	}
}
