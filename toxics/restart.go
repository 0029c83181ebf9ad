package toxics

import (
	"context"
	"fmt"
)

// Restart kills a component with SIGKILL and starts it again at once, waiting until it is
// ready. Undo makes sure it runs.
type Restart struct{}

func init() { Register("restart", func() Fault { return new(Restart) }) }

func (*Restart) Kind() Kind      { return Process }
func (*Restart) Validate() error { return nil }

// Starts: Apply starts the component again and waits; the undo makes sure it runs.
func (*Restart) Starts() (onApply, onUndo bool) { return true, true }

func (*Restart) Apply(ctx context.Context, env Env, component string) (Undo, error) {
	c, err := env.Component(component)
	if err != nil {
		return nil, fmt.Errorf("toxics: restart %s: %w", component, err)
	}
	if err := c.Kill(ctx); err != nil {
		return nil, fmt.Errorf("toxics: restart %s: %w", component, err)
	}
	ensure := func(ctx context.Context) error {
		if err := c.Start(ctx); err != nil {
			return fmt.Errorf("toxics: restart %s: %w", component, err)
		}
		return nil
	}
	if err := ensure(ctx); err != nil {
		return ensure, err
	}
	return onceUndo(ensure), nil
}
