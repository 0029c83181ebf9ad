package toxics

import (
	"context"
	"fmt"
)

// Pause freezes a component with SIGSTOP: it holds its connections and answers nothing.
// Undo thaws it with SIGCONT.
type Pause struct{}

func init() { Register("pause", func() Fault { return new(Pause) }) }

func (*Pause) Kind() Kind      { return Process }
func (*Pause) Validate() error { return nil }

func (*Pause) Apply(ctx context.Context, env Env, component string) (Undo, error) {
	c, err := env.Component(component)
	if err != nil {
		return nil, fmt.Errorf("toxics: pause %s: %w", component, err)
	}
	if err := c.Pause(ctx); err != nil {
		return nil, fmt.Errorf("toxics: pause %s: %w", component, err)
	}
	return onceUndo(func(ctx context.Context) error {
		if err := c.Resume(ctx); err != nil {
			return fmt.Errorf("toxics: resume %s: %w", component, err)
		}
		return nil
	}), nil
}
