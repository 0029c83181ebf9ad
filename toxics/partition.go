package toxics

import (
	"context"
	"fmt"
)

// Partition cuts an edge: the proxy is disabled, so new connections are refused and open
// ones are dropped. Undo enables it again.
type Partition struct{}

func init() { Register("partition", func() Fault { return new(Partition) }) }

func (*Partition) Kind() Kind      { return Network }
func (*Partition) Validate() error { return nil }

func (*Partition) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := env.Proxy(edge)
	if err != nil {
		return nil, fmt.Errorf("toxics: partition %s: %w", edge, err)
	}
	if err := p.Disable(); err != nil {
		return nil, fmt.Errorf("toxics: partition %s: %w", edge, err)
	}
	return onceUndo(func(ctx context.Context) error {
		return retryHeal(ctx, func() error {
			p, err := env.Proxy(edge)
			if err == nil {
				err = p.Enable()
			}
			if err != nil && !isNotFound(err) { // 404: the proxy went away
				return fmt.Errorf("toxics: heal partition %s: %w", edge, err)
			}
			return nil
		})
	}), nil
}
