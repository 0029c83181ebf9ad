package ledger

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/toxics"
)

// fakeEnv has components only; a paused component is what the tests look at.
type fakeEnv struct {
	mu     sync.Mutex
	paused map[string]bool
}

func (e *fakeEnv) Proxy(edge string) (*toxiclient.Proxy, error) {
	return nil, errors.New("fake: no proxies")
}
func (e *fakeEnv) Component(name string) (toxics.Controller, error) { return fakeCtl{e, name}, nil }

func (e *fakeEnv) isPaused(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused[name]
}

type fakeCtl struct {
	e    *fakeEnv
	name string
}

func (c fakeCtl) set(v bool) error {
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	c.e.paused[c.name] = v
	return nil
}
func (c fakeCtl) Kill(context.Context) error   { return nil }
func (c fakeCtl) Start(context.Context) error  { return nil }
func (c fakeCtl) Pause(context.Context) error  { return c.set(true) }
func (c fakeCtl) Resume(context.Context) error { return c.set(false) }
func (c fakeCtl) Running() bool                { return true }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(deadman time.Duration) (*Ledger, *fakeEnv, *clock, *[]string) {
	env := &fakeEnv{paused: map[string]bool{}}
	clk := &clock{t: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}
	var heals []string
	l := New(env, Options{Deadman: deadman, Now: clk.now, Heal: func(_ context.Context, t string) error {
		heals = append(heals, "heal:"+t)
		return nil
	}})
	return l, env, clk, &heals
}

func kinds(l *Ledger) string {
	var ks []string
	for _, e := range l.Events(0) {
		ks = append(ks, e.Kind)
	}
	return strings.Join(ks, ",")
}

func TestInjectValidation(t *testing.T) {
	l, _, _, _ := newTest(0)
	for _, c := range []struct {
		name string
		req  Request
		want string
	}{
		{"unknown fault", Request{Fault: "explode", Target: "link"}, `unknown fault "explode"`},
		{"network fault on a component", Request{Fault: "latency", Target: "link", Params: map[string]any{"latency": "100ms"}}, `latency is a network fault and "link" is not an edge`},
		{"process fault on an edge", Request{Fault: "pause", Target: "redirect->link"}, `pause is a process fault and "redirect->link" is not a component`},
		{"bad parameter", Request{Fault: "latency", Target: "redirect->link", Params: map[string]any{"latency": "0ms"}}, "latency must be > 0"},
		{"unknown parameter", Request{Fault: "latency", Target: "redirect->link", Params: map[string]any{"latncy": "5ms"}}, `unknown parameter "latncy"`},
		{"negative for", Request{Fault: "pause", Target: "link", For: toxics.Duration(-time.Second)}, "for -1s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := l.Inject(context.Background(), c.req)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrInvalid containing %q", err, c.want)
			}
		})
	}
	if n := len(l.Snapshot().Faults); n != 0 {
		t.Fatalf("%d faults recorded after invalid requests", n)
	}
}

func TestHaltHealsBlocksAndReleases(t *testing.T) {
	l, env, _, heals := newTest(0)
	ctx := context.Background()
	stopped := 0
	l.OnHalt(func(context.Context) { stopped++ })
	if _, err := l.Inject(ctx, Request{Fault: "pause", Target: "billing", Who: "ana", Source: SourceConsole}); err != nil {
		t.Fatal(err)
	}
	if !env.isPaused("billing") {
		t.Fatal("billing not paused after inject")
	}
	if err := l.Halt(ctx, "bo"); err != nil {
		t.Fatal(err)
	}
	if env.isPaused("billing") || len(l.Snapshot().Faults) != 0 {
		t.Fatal("halt left a fault active")
	}
	if stopped != 1 || strings.Join(*heals, " ") != "heal:" {
		t.Fatalf("halt hooks %d, lab heals %v: want 1 hook and one heal of everything", stopped, *heals)
	}
	if _, err := l.Inject(ctx, Request{Fault: "pause", Target: "billing", Source: SourceCLI}); !errors.Is(err, ErrHalted) {
		t.Fatalf("inject while halted: %v, want ErrHalted", err)
	}
	if env.isPaused("billing") {
		t.Fatal("a refused inject acted")
	}
	if s := l.Snapshot(); !s.Halted || s.HaltedBy != "bo" {
		t.Fatalf("snapshot %+v: want halted by bo", s)
	}
	l.Release("bo")
	if _, err := l.Inject(ctx, Request{Fault: "pause", Target: "billing"}); err != nil {
		t.Fatalf("inject after release: %v", err)
	}
	if got, want := kinds(l), "inject,halt,heal,refused,release,inject"; got != want {
		t.Fatalf("timeline %s, want %s", got, want)
	}
}

func TestExpiryAndDeadman(t *testing.T) {
	l, env, clk, _ := newTest(15 * time.Second)
	ctx := context.Background()
	mustInject := func(r Request) {
		t.Helper()
		if _, err := l.Inject(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	mustInject(Request{Fault: "pause", Target: "billing", For: toxics.Duration(5 * time.Second), Source: SourceCLI})
	mustInject(Request{Fault: "pause", Target: "analytics", Source: SourceConsole})
	mustInject(Request{Fault: "pause", Target: "link", Source: SourceCLI})
	clk.add(5 * time.Second)
	l.Tick(ctx)
	if env.isPaused("billing") {
		t.Fatal("billing still paused after its 5s")
	}
	clk.add(9 * time.Second) // 14 s since the last beat
	l.Tick(ctx)
	if !env.isPaused("analytics") {
		t.Fatal("dead-man fired before its time")
	}
	l.Beat()
	clk.add(14 * time.Second)
	l.Tick(ctx)
	if !env.isPaused("analytics") {
		t.Fatal("a heartbeat did not reset the dead-man")
	}
	clk.add(2 * time.Second)
	l.Tick(ctx)
	if env.isPaused("analytics") {
		t.Fatal("console fault survived 16 s without heartbeat")
	}
	if !env.isPaused("link") {
		t.Fatal("the dead-man healed a CLI fault; only console faults are its")
	}
	ev := l.Events(0)
	last := ev[len(ev)-1]
	if last.Kind != KindDeadman || last.Target != "analytics" || !strings.Contains(last.Text, "no console or CLI heartbeat") {
		t.Fatalf("last event %+v: want the dead-man healing analytics, said on the timeline", last)
	}
	if got, want := kinds(l), "inject,inject,inject,expire,deadman"; got != want {
		t.Fatalf("timeline %s, want %s", got, want)
	}
}

func TestHealTargetAndID(t *testing.T) {
	l, env, _, heals := newTest(0)
	ctx := context.Background()
	a, _ := l.Inject(ctx, Request{Fault: "pause", Target: "billing"})
	if _, err := l.Inject(ctx, Request{Fault: "pause", Target: "link"}); err != nil {
		t.Fatal(err)
	}
	if err := l.HealID(ctx, a.ID, "cy"); err != nil {
		t.Fatal(err)
	}
	if err := l.HealID(ctx, a.ID, "cy"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second heal of one id: %v, want ErrNotFound", err)
	}
	if env.isPaused("billing") || !env.isPaused("link") {
		t.Fatal("HealID healed the wrong fault")
	}
	if err := l.Heal(ctx, "link", "cy"); err != nil {
		t.Fatal(err)
	}
	if env.isPaused("link") || strings.Join(*heals, " ") != "heal:link" {
		t.Fatalf("heal link: paused=%v lab heals=%v", env.isPaused("link"), *heals)
	}
}

func TestNote(t *testing.T) {
	l, _, _, _ := newTest(0)
	if _, err := l.Note("ana", "   "); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty note: %v", err)
	}
	if _, err := l.Note("ana", strings.Repeat("x", 4001)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("long note: %v", err)
	}
	e, err := l.Note("ana", " p99 of redirect doubled ")
	if err != nil || e.Text != "p99 of redirect doubled" || e.Who != "ana" || e.At.IsZero() {
		t.Fatalf("note %+v %v", e, err)
	}
}

// TestAdoptedFaults: a scenario's scheduled fault shows as active, the dead-man never heals
// it, a halt reaches it through its owner's undo, and its owner's own heal is logged once.
func TestAdoptedFaults(t *testing.T) {
	l, _, clk, _ := newTest(15 * time.Second)
	ctx := context.Background()
	undos := 0
	a := l.Adopt("latency", "gateway->redirect", map[string]string{"latency": "200ms"}, func(context.Context) error { undos++; return nil })
	b := l.Adopt("pause", "link", nil, func(context.Context) error { t.Error("b undone by the ledger"); return nil })
	if s := l.Snapshot(); len(s.Faults) != 2 || s.Faults[0].Source != SourceScenario {
		t.Fatalf("active %+v: want both adopted faults, from the scenario", s.Faults)
	}
	clk.add(time.Minute)
	l.Tick(ctx)
	if len(l.Snapshot().Faults) != 2 {
		t.Fatal("the dead-man healed a scenario's fault")
	}
	l.Drop(b.ID, "")
	l.Drop(b.ID, "") // a second report changes nothing
	if err := l.Halt(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	l.Drop(a.ID, "") // the owner's heal after the halt's: not logged again
	if undos != 1 || len(l.Snapshot().Faults) != 0 {
		t.Fatalf("%d undos, active %+v: want the halt to undo the adopted fault once", undos, l.Snapshot().Faults)
	}
	if got, want := kinds(l), "inject,inject,heal,halt,heal"; got != want {
		t.Fatalf("timeline %s, want %s", got, want)
	}
	if e := l.Events(0)[4]; e.FaultID != a.ID || e.Text != "halt" || e.Who != "ana" {
		t.Errorf("halt's heal %+v", e)
	}
}

// TestOnChange: every change the ledger logs — an inject, a heal, a note — reaches its
// watchers at once, so a live page need not wait for its next tick; a refused inject is no
// change.
func TestOnChange(t *testing.T) {
	l, _, _, _ := newTest(0)
	ctx := context.Background()
	changes := 0
	l.OnChange(func() { changes++ })
	if _, err := l.Inject(ctx, Request{Fault: "pause", Target: "billing"}); err != nil {
		t.Fatal(err)
	}
	afterInject := changes
	if afterInject == 0 {
		t.Fatal("an inject did not tell the watchers")
	}
	if _, err := l.Inject(ctx, Request{Fault: "no-such-fault", Target: "billing"}); err == nil {
		t.Fatal("an unknown fault was accepted")
	}
	if changes != afterInject {
		t.Fatalf("a refused inject told the watchers (%d → %d)", afterInject, changes)
	}
	if err := l.Heal(ctx, "billing", "cy"); err != nil {
		t.Fatal(err)
	}
	afterHeal := changes
	if afterHeal == afterInject {
		t.Fatal("a heal did not tell the watchers")
	}
	if _, err := l.Note("ana", "p99 doubled"); err != nil || changes == afterHeal {
		t.Fatalf("a note did not tell the watchers (%v)", err)
	}
}
