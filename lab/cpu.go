package lab

import (
	"context"
	"errors"
	"fmt"

	"github.com/faultline/faultline/internal/cpulimit"
	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/toxics"
)

// LimitCPU caps the component at share of one CPU (toxics.CPULimiter). The lab keeps the cap
// so that Heal and Close lift it too: Ctrl-C or a failed run never leaves a starved process
// or a cgroup behind.
func (c controller) LimitCPU(ctx context.Context, share float64) (toxics.Undo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, pid := c.s.Name, c.s.Pid()
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if c.l.cpu[name] != nil {
		return nil, fmt.Errorf("lab: %s already has a CPU limit", name)
	}
	lim, err := cpulimit.Apply(name, pid, localserver.Tree(pid), share, c.l.o.CPUMethod)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	c.l.cpu[name] = lim
	c.l.logf("lab: %s limited to %.0f %% of one CPU (%s)", name, share*100, lim.Method)
	return func(context.Context) error { return c.l.liftCPU(name) }, nil
}

// liftCPU lifts the CPU limit of one component, or of all when name is "".
func (l *Lab) liftCPU(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for n, lim := range l.cpu {
		if name != "" && n != name {
			continue
		}
		if err := lim.Undo(); err != nil {
			errs = append(errs, fmt.Errorf("lab: lift CPU limit of %s: %w", n, err))
			continue
		}
		delete(l.cpu, n)
	}
	return errors.Join(errs...)
}

// cpuLimit describes the CPU limit in force on a component, "" when none.
func (l *Lab) cpuLimit(name string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim := l.cpu[name]; lim != nil {
		return fmt.Sprintf("%g%% (%s)", lim.Share*100, lim.Method)
	}
	return ""
}
