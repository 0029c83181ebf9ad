package toxics

import (
	"context"
	"errors"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Timeout stops all data on an edge and closes the connection after Timeout; a Timeout of 0
// holds it open forever (a blackhole). It only hangs while the upstream keeps the connection
// open, so it bites on keep-alive connections.
type Timeout struct {
	Timeout Duration `json:"timeout"`
	NetworkOptions
}

func init() { Register("timeout", func() Fault { return new(Timeout) }) }

func (*Timeout) Kind() Kind { return Network }

func (f *Timeout) Validate() error {
	if f.Timeout < 0 {
		return errors.New("timeout must be >= 0 (0 = blackhole)")
	}
	if err := f.Timeout.wholeMs("timeout", "a blackhole that never times out"); err != nil {
		return err
	}
	return f.validate()
}

func (f *Timeout) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addToxic(ctx, env, edge, "timeout", f.NetworkOptions, toxiclient.Attributes{"timeout": f.Timeout.Ms()})
}
