package toxics

import (
	"context"
	"errors"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// LimitData closes a connection once Bytes have passed through it.
type LimitData struct {
	Bytes int64 `json:"bytes"`
	NetworkOptions
}

func init() { Register("limit_data", func() Fault { return new(LimitData) }) }

func (*LimitData) Kind() Kind { return Network }

func (f *LimitData) Validate() error {
	if f.Bytes <= 0 {
		return errors.New("bytes must be > 0")
	}
	return f.validate()
}

func (f *LimitData) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addToxic(ctx, env, edge, "limit_data", f.NetworkOptions, toxiclient.Attributes{"bytes": f.Bytes})
}
