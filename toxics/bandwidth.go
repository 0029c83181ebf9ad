package toxics

import (
	"context"
	"errors"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Bandwidth caps an edge's throughput at Rate KB/s.
type Bandwidth struct {
	Rate int64 `json:"rate"` // KB/s
	NetworkOptions
}

func init() { Register("bandwidth", func() Fault { return new(Bandwidth) }) }

func (*Bandwidth) Kind() Kind { return Network }

func (f *Bandwidth) Validate() error {
	if f.Rate <= 0 {
		return errors.New("rate must be > 0 KB/s (e.g. rate=64)")
	}
	return f.validate()
}

func (f *Bandwidth) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addToxic(ctx, env, edge, "bandwidth", f.NetworkOptions, toxiclient.Attributes{"rate": f.Rate})
}
