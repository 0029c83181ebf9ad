package toxics

import (
	"context"
	"errors"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// SlowClose delays the close of a connection by Delay after the other side closed it.
type SlowClose struct {
	Delay Duration `json:"delay"`
	NetworkOptions
}

func init() { Register("slow_close", func() Fault { return new(SlowClose) }) }

func (*SlowClose) Kind() Kind { return Network }

func (f *SlowClose) Validate() error {
	if f.Delay <= 0 {
		return errors.New("delay must be > 0 (e.g. delay=1s)")
	}
	if err := f.Delay.wholeMs("delay", "no delay at all"); err != nil {
		return err
	}
	return f.validate()
}

func (f *SlowClose) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addToxic(ctx, env, edge, "slow_close", f.NetworkOptions, toxiclient.Attributes{"delay": f.Delay.Ms()})
}
