package toxics

import (
	"context"
	"errors"
	"fmt"
)

// CPU starves a component: it runs on Share of one CPU until healed.
type CPU struct {
	Share *float64 `json:"share"`
}

// CPULimiter is implemented by a Controller whose backend can cap a component's CPU; the
// returned undo lifts the cap (idempotent) and the backend also lifts it when it heals or
// stops, so no exit path leaves a component starved.
type CPULimiter interface {
	LimitCPU(ctx context.Context, share float64) (Undo, error)
}

func init() { Register("cpu", func() Fault { return new(CPU) }) }

func (*CPU) Kind() Kind { return Process }

func (f *CPU) Validate() error {
	if f.Share == nil {
		return errors.New("share is required: the share of one CPU the component keeps, in (0, 1) (e.g. share=0.25)")
	}
	if !(*f.Share > 0 && *f.Share < 1) {
		return fmt.Errorf("share %v: want a share of one CPU in (0, 1) (0 would be a pause, 1 no fault)", *f.Share)
	}
	return nil
}

func (f *CPU) Apply(ctx context.Context, env Env, component string) (Undo, error) {
	c, err := env.Component(component)
	if err != nil {
		return nil, fmt.Errorf("toxics: cpu %s: %w", component, err)
	}
	l, ok := c.(CPULimiter)
	if !ok {
		return nil, fmt.Errorf("toxics: cpu %s: this lab backend cannot limit a component's CPU (the local process backend can)", component)
	}
	undo, err := l.LimitCPU(ctx, *f.Share)
	if err != nil {
		return nil, fmt.Errorf("toxics: cpu %s: %w", component, err)
	}
	return onceUndo(func(ctx context.Context) error {
		if err := undo(ctx); err != nil {
			return fmt.Errorf("toxics: cpu %s: undo: %w", component, err)
		}
		return nil
	}), nil
}
