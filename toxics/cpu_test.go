package toxics

import (
	"context"
	"errors"
	"strings"
	"testing"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// limiter is a fake controller that can limit CPU.
type limiter struct {
	fakeController
	share  float64
	undone int
}

func (l *limiter) LimitCPU(_ context.Context, share float64) (Undo, error) {
	l.share = share
	return func(context.Context) error { l.undone++; return nil }, nil
}

// cpuEnv gives one component.
type cpuEnv struct{ c Controller }

func (e cpuEnv) Proxy(string) (*toxiclient.Proxy, error) { return nil, errors.New("no edges") }
func (e cpuEnv) Component(string) (Controller, error)    { return e.c, nil }

func TestCPUFault(t *testing.T) {
	if _, err := New("cpu", map[string]any{"share": 1}); err == nil || !strings.Contains(err.Error(), "share 1: want a share of one CPU in (0, 1)") {
		t.Errorf("share 1: got %v", err)
	}
	if _, err := New("cpu", nil); err == nil || !strings.Contains(err.Error(), "share is required") {
		t.Errorf("no share: got %v", err)
	}
	f := mustNew(t, "cpu", map[string]any{"share": 0.25})
	// A backend that cannot limit CPU refuses clearly.
	env := &testEnv{comps: map[string]*fakeController{"svc": {running: true}}}
	if _, err := f.Apply(context.Background(), env, "svc"); err == nil || !strings.Contains(err.Error(), "cannot limit a component's CPU") {
		t.Errorf("plain controller: got %v", err)
	}
	l := &limiter{}
	undo, err := f.Apply(context.Background(), cpuEnv{l}, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if l.share != 0.25 {
		t.Errorf("share: got %v, want 0.25", l.share)
	}
	_ = undo(context.Background())
	_ = undo(context.Background())
	if l.undone != 1 {
		t.Errorf("undone %d times, want once", l.undone)
	}
}
