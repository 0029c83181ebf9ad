package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/ledger"
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
			f, err := ledger.Check(name, target, params)
			if err != nil {
				return usageError{fmt.Errorf("inject: %w", err)}
			}
			if cr, ok := f.(*toxics.Crash); ok && forDur == 0 {
				forDur = cr.RestartAfter.D()
			}
			r, err := lab.Attach(stateDir, selector)
			if err != nil {
				return fmt.Errorf("inject: %w", err)
			}
			ctx := cmd.Context()
			// The lab applies the fault and records it, so a HALT from any console or
			// 'faultline halt' heals it and refuses new ones; with --for the lab undoes it
			// on time even if this command dies.
			fault, err := r.Inject(ctx, ledger.Request{Target: target, Fault: name, Params: params,
				For: toxics.Duration(forDur), Who: whoAmI(), Source: ledger.SourceCLI})
			if err != nil {
				return fmt.Errorf("inject: %w", err)
			}
			out := cmd.OutOrStdout()
			if forDur == 0 {
				fmt.Fprintf(out, "injected %s on %s (lab pid %d, fault #%d); undo with: faultline heal '%s'\n", name, target, r.State.Pid, fault.ID, target)
				return nil
			}
			fmt.Fprintf(out, "injected %s on %s (lab pid %d, fault #%d) for %v\n", name, target, r.State.Pid, fault.ID, forDur)
			if err := waitHealed(ctx, r, fault.ID, forDur); err != nil {
				return fmt.Errorf("inject: %w", err)
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

// waitHealed waits while the lab undoes fault id at the end of its time, sending heartbeats
// (this command is a CLI client of the dead-man switch); Ctrl-C heals it at once.
func waitHealed(ctx context.Context, r *lab.Remote, id int, d time.Duration) error {
	deadline := time.Now().Add(d + 2*time.Minute) // an undo that restarts waits for readiness
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastBeat := time.Now()
	for {
		select {
		case <-ctx.Done():
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			return r.HealFault(hctx, id, whoAmI())
		case <-tick.C:
		}
		if time.Since(lastBeat) > 5*time.Second {
			_ = r.Heartbeat(ctx)
			lastBeat = time.Now()
		}
		st, err := r.Faults(ctx)
		if err != nil {
			continue // the lab may be busy restarting a component; the deadline bounds this
		}
		if !slices.ContainsFunc(st.Faults, func(f ledger.Fault) bool { return f.ID == id }) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fault #%d still active %v after its time", id, time.Since(deadline.Add(-2*time.Minute)).Round(time.Second))
		}
	}
}

// whoAmI names the CLI user on the game day's timeline.
func whoAmI() string {
	if u := os.Getenv("USER"); u != "" {
		return u + " (cli)"
	}
	return "cli"
}
