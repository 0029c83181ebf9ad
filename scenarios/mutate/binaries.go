package mutate

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/faultline/faultline/scenarios/mutants"
)

// Builds builds the code mutants' binaries on first use, one per patch, for one measurement;
// Close removes them.
type Builds struct {
	Source string    // module root; "" = the one containing the working directory
	Log    io.Writer // one line per build
	b      *mutants.Builder
}

// Binary returns the faultline binary with code mutant name's bug, building it once.
func (c *Builds) Binary(ctx context.Context, name string) (string, error) {
	m, ok := mutants.Get(name)
	if !ok {
		return "", fmt.Errorf("mutate: unknown code mutant %q", name)
	}
	if c.b == nil {
		src := c.Source
		if src == "" {
			var err error
			if src, err = mutants.FindSource("."); err != nil {
				return "", err
			}
		}
		b, err := mutants.NewBuilder(src)
		if err != nil {
			return "", err
		}
		c.b = b
	}
	log := c.Log
	if log == nil {
		log = io.Discard
	}
	start := time.Now()
	fmt.Fprintf(log, "building code mutant %s (%s: %s)\n", name, m.Policy, m.Bug)
	bin, err := c.b.Build(ctx, m)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(log, "  built in %s\n", time.Since(start).Round(100*time.Millisecond))
	return bin, nil
}

// Close removes the scratch tree and the binaries.
func (c *Builds) Close() error { return c.b.Close() }
