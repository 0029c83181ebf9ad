package toxics

import (
	"context"
	"errors"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Latency delays data on an edge by Latency ± Jitter.
type Latency struct {
	Latency Duration `json:"latency"`
	Jitter  Duration `json:"jitter,omitempty"`
	NetworkOptions
}

func init() { Register("latency", func() Fault { return new(Latency) }) }

func (*Latency) Kind() Kind { return Network }

func (f *Latency) Validate() error {
	if f.Latency <= 0 {
		return errors.New("latency must be > 0 (e.g. latency=100ms)")
	}
	if err := f.Latency.wholeMs("latency", "no delay at all"); err != nil {
		return err
	}
	if f.Jitter < 0 || f.Jitter > f.Latency {
		return errors.New("jitter must be between 0 and latency")
	}
	if err := f.Jitter.wholeMs("jitter", "no jitter"); err != nil {
		return err
	}
	return f.validate()
}

func (f *Latency) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addToxic(ctx, env, edge, "latency", f.NetworkOptions,
		toxiclient.Attributes{"latency": f.Latency.Ms(), "jitter": f.Jitter.Ms()})
}
