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
	if err := validateDelay(f.Latency, f.Jitter, "100ms"); err != nil {
		return err
	}
	return f.validate()
}

// validateDelay checks a latency ± jitter pair as Toxiproxy takes it (whole milliseconds,
// jitter within the latency), for the TCP latency toxic and the request-level one alike.
func validateDelay(latency, jitter Duration, example string) error {
	if latency <= 0 {
		return errors.New("latency must be > 0 (e.g. latency=" + example + ")")
	}
	if err := latency.wholeMs("latency", "no delay at all"); err != nil {
		return err
	}
	if jitter < 0 || jitter > latency {
		return errors.New("jitter must be between 0 and latency")
	}
	return jitter.wholeMs("jitter", "no jitter")
}

func (f *Latency) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addToxic(ctx, env, edge, "latency", f.NetworkOptions,
		toxiclient.Attributes{"latency": f.Latency.Ms(), "jitter": f.Jitter.Ms()})
}
