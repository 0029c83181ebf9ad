package toxics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Directions a network toxic can act in. Downstream is what the caller receives (responses),
// upstream what it sends.
const (
	Downstream = "downstream"
	Upstream   = "upstream"
	Both       = "both"
)

// NetworkOptions are the parameters every network toxic shares.
type NetworkOptions struct {
	// Toxicity is the share of connections affected, in (0, 1]; nil means 1.
	Toxicity *float64 `json:"toxicity,omitempty"`
	// Direction is downstream (default), upstream or both.
	Direction string `json:"direction,omitempty"`
}

func (n NetworkOptions) validate() error {
	if n.Toxicity != nil && !(*n.Toxicity > 0 && *n.Toxicity <= 1) {
		return fmt.Errorf("toxicity %v: want a share of connections in (0, 1] (0 affects none: the fault would do nothing)", *n.Toxicity)
	}
	switch n.Direction {
	case "", Downstream, Upstream, Both:
		return nil
	}
	return fmt.Errorf("direction %q: want downstream, upstream or both", n.Direction)
}

func (n NetworkOptions) streams() []string {
	switch n.Direction {
	case Upstream:
		return []string{Upstream}
	case Both:
		return []string{Downstream, Upstream}
	}
	return []string{Downstream}
}

func (n NetworkOptions) toxicity() float32 {
	if n.Toxicity == nil {
		return 1
	}
	return float32(*n.Toxicity)
}

// seq makes toxic names unique within this process; the pid part keeps two processes
// (a scenario run and `faultline inject`) apart on one Toxiproxy.
var (
	seq atomic.Int64
	pid = os.Getpid()
)

// ToxicPrefix starts the name of every toxic Faultline adds, so heal can tell its own apart.
const ToxicPrefix = "faultline-"

// addToxic adds one Toxiproxy toxic per stream on edge and returns the undo that removes them.
func addToxic(ctx context.Context, env Env, edge, typ string, n NetworkOptions, attrs toxiclient.Attributes) (Undo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	proxy, err := env.Proxy(edge)
	if err != nil {
		return nil, fmt.Errorf("toxics: %s on %s: %w", typ, edge, err)
	}
	var names []string
	undo := onceUndo(func(ctx context.Context) error {
		return retryHeal(ctx, func() error {
			p, err := env.Proxy(edge)
			if isNotFound(err) {
				return nil // the proxy went away, and its toxics with it
			}
			if err != nil {
				return fmt.Errorf("toxics: heal %s on %s: %w", typ, edge, err)
			}
			var errs []error
			for _, name := range names {
				if err := p.RemoveToxic(name); err != nil && !isNotFound(err) {
					errs = append(errs, fmt.Errorf("toxics: remove %s from %s: %w", name, edge, err))
				}
			}
			return errors.Join(errs...)
		})
	})
	for _, stream := range n.streams() {
		name := fmt.Sprintf("%s%s-%s-%d-%d", ToxicPrefix, typ, stream, pid, seq.Add(1))
		if _, err := proxy.AddToxic(name, typ, stream, n.toxicity(), attrs); err != nil {
			_ = undo(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("toxics: add %s to %s: %w", typ, edge, err)
		}
		names = append(names, name)
	}
	return undo, nil
}

// isNotFound says whether Toxiproxy itself answered 404: the proxy or toxic is gone. Only
// that answer means a heal has nothing left to do; a refused connection, a timeout or a 5xx
// says nothing about the toxic, which may still be there.
func isNotFound(err error) bool {
	var ae *toxiclient.ApiError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// healBackoff is how long a heal waits before each retry: a Toxiproxy that hiccups (a
// restart, a full accept queue) gets about half a second, and one that stays unreachable
// fails the heal soon enough for the run to say so while the fault is still young.
var healBackoff = []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond}

// retryHeal runs heal until it succeeds, the retries run out or ctx ends, and returns the
// last error.
func retryHeal(ctx context.Context, heal func() error) error {
	err := heal()
	for _, wait := range healBackoff {
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		err = heal()
	}
	return err
}

// onceUndo makes an undo idempotent: after one success later calls do nothing; after a
// failure the next call tries again.
func onceUndo(f Undo) Undo {
	var mu sync.Mutex
	done := false
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return nil
		}
		if err := f(ctx); err != nil {
			return err
		}
		done = true
		return nil
	}
}
