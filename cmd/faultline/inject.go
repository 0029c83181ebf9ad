package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

func init() { commands = append(commands, newInjectCmd) }

func newInjectCmd() *cobra.Command {
	var (
		forDur   time.Duration
		selector string
		stateDir string
	)
	c := &cobra.Command{
		Use:   "inject EDGE-OR-COMPONENT FAULT [key=value...]",
		Short: "Inject one fault into the running lab (see 'faultline up')",
		Long: `Inject one fault into the lab that 'faultline up' runs.

Network faults act on an edge (a Toxiproxy proxy; quote it in a shell: 'redirect->link'):
  latency     latency=100ms jitter=10ms
  bandwidth   rate=64                      (KB/s)
  slow_close  delay=1s
  timeout     timeout=0                    (0 = blackhole; ms or a duration)
  reset_peer  timeout=0
  limit_data  bytes=1024
  partition                                (proxy disabled: refused, open connections dropped)
  every one also takes toxicity in (0,1] (default 1) and direction=downstream|upstream|both.
  Toxiproxy takes whole milliseconds: latency=0.5 or timeout=500us is refused, not truncated.
Request-level faults act on the HTTP requests of an edge (share of matching requests, seeded):
  http_error    status=503 share=0.1 [body=busy retry_after=2s method=POST path=/api seed=1]
  http_latency  latency=2s share=0.02 [jitter=100ms method=GET path=/r seed=1]
  http_reset    share=0.05 [method=GET path=/r seed=1]   (response cut, connection closed)
Process faults act on a component (e.g. analytics, link-db):
  crash       restart_after=5s             (SIGKILL; restarts by itself after the delay)
  restart                                  (SIGKILL, then start and wait until ready)
  pause                                    (SIGSTOP until healed)
  cpu         share=0.25                   (a quarter of one CPU: cgroup quota, else stop/continue)

Without --for the fault stays until 'faultline heal TARGET' (or 'heal --all'); with --for,
inject waits, then undoes it (Ctrl-C undoes it at once). crash with restart_after waits for
the restart. Durations take units (100ms, 2s); a bare number is milliseconds.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, name := args[0], args[1]
			params, err := parseParams(args[2:])
			if err != nil {
				return usageError{fmt.Errorf("inject: %w", err)}
			}
			f, err := toxics.New(name, params)
			if err != nil {
				return usageError{fmt.Errorf("inject: %w", err)}
			}
			switch f.Kind() {
			case toxics.Network:
				if !topology.IsEdge(target) {
					return usageError{fmt.Errorf("inject: %s is a network fault and %q is not an edge (edges: %s)", name, target, edgeNames())}
				}
			case toxics.Process:
				if !topology.IsComponent(target) {
					return usageError{fmt.Errorf("inject: %s is a process fault and %q is not a component (components: %s)", name, target, strings.Join(topology.Components(), ", "))}
				}
			}
			if cr, ok := f.(*toxics.Crash); ok && forDur == 0 {
				forDur = cr.RestartAfter.D()
			}
			r, err := lab.Attach(stateDir, selector)
			if err != nil {
				return fmt.Errorf("inject: %w", err)
			}
			ctx := cmd.Context()
			undo, err := f.Apply(ctx, r.Env(), target)
			if err != nil {
				return fmt.Errorf("inject: %w", err)
			}
			out := cmd.OutOrStdout()
			if forDur == 0 {
				fmt.Fprintf(out, "injected %s on %s (lab pid %d); undo with: faultline heal '%s'\n", name, target, r.State.Pid, target)
				return nil
			}
			fmt.Fprintf(out, "injected %s on %s (lab pid %d) for %v\n", name, target, r.State.Pid, forDur)
			t := time.NewTimer(forDur)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := undo(uctx); err != nil {
				return fmt.Errorf("inject: undo: %w", err)
			}
			fmt.Fprintf(out, "healed %s on %s\n", name, target)
			return nil
		},
	}
	c.Flags().DurationVar(&forDur, "for", 0, "undo the fault after this long (0 = leave it until 'faultline heal')")
	c.Flags().StringVar(&selector, "lab", "", "which lab: its pid or state file (default: the newest running one)")
	c.Flags().StringVar(&stateDir, "state-dir", "", "state dir of running labs (default $FAULTLINE_STATE_DIR or ~/.cache/faultline/labs)")
	return c
}

// parseParams turns key=value words into fault parameters; numbers and booleans keep their
// type so that rate=64 decodes into an integer field.
func parseParams(words []string) (map[string]any, error) {
	params := map[string]any{}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("parameter %q: want key=value", w)
		}
		if _, dup := params[k]; dup {
			return nil, fmt.Errorf("parameter %q given twice", k)
		}
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			params[k] = i
		} else if f, err := strconv.ParseFloat(v, 64); err == nil {
			params[k] = f
		} else if b, err := strconv.ParseBool(v); err == nil {
			params[k] = b
		} else {
			params[k] = v
		}
	}
	return params, nil
}

func edgeNames() string {
	var names []string
	for _, e := range topology.Edges() {
		names = append(names, e.Name)
	}
	return strings.Join(names, ", ")
}
