package toxics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Crash kills a component with SIGKILL. With RestartAfter it starts again by itself after
// that delay; undo (re)starts it in any case and waits until it is ready.
type Crash struct {
	RestartAfter Duration `json:"restart_after,omitempty"`
}

func init() { Register("crash", func() Fault { return new(Crash) }) }

func (*Crash) Kind() Kind { return Process }

// Starts: the undo starts the component again and waits until it is ready.
func (*Crash) Starts() (onApply, onUndo bool) { return false, true }

func (f *Crash) Validate() error {
	if f.RestartAfter < 0 {
		return errors.New("restart_after must be >= 0")
	}
	return nil
}

func (f *Crash) Apply(ctx context.Context, env Env, component string) (Undo, error) {
	c, err := env.Component(component)
	if err != nil {
		return nil, fmt.Errorf("toxics: crash %s: %w", component, err)
	}
	if err := c.Kill(ctx); err != nil {
		return nil, fmt.Errorf("toxics: crash %s: %w", component, err)
	}
	// The restart timer belongs to the undo, which stops it and waits for it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var restartErr error
	if f.RestartAfter > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(f.RestartAfter.D())
			defer t.Stop()
			select {
			case <-stop:
			case <-t.C:
				rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				restartErr = c.Start(rctx)
				cancel()
			}
		}()
	}
	var once sync.Once
	return onceUndo(func(ctx context.Context) error {
		once.Do(func() { close(stop); wg.Wait() })
		if err := c.Start(ctx); err != nil {
			return errors.Join(restartErr, fmt.Errorf("toxics: restart %s: %w", component, err))
		}
		return nil
	}), nil
}
