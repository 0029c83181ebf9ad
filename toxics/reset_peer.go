package toxics

import (
	"context"
	"errors"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// ResetPeer resets connections (TCP RST) after Timeout; 0 resets at once.
type ResetPeer struct {
	Timeout Duration `json:"timeout,omitempty"`
	NetworkOptions
}

func init() { Register("reset_peer", func() Fault { return new(ResetPeer) }) }

func (*ResetPeer) Kind() Kind { return Network }

func (f *ResetPeer) Validate() error {
	if f.Timeout < 0 {
		return errors.New("timeout must be >= 0")
	}
	if err := f.Timeout.wholeMs("timeout", "a reset at once"); err != nil {
		return err
	}
	return f.validate()
}

func (f *ResetPeer) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addToxic(ctx, env, edge, "reset_peer", f.NetworkOptions, toxiclient.Attributes{"timeout": f.Timeout.Ms()})
}
