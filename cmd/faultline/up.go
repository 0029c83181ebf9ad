package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/atomicfile"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/system/topology"
)

func init() { commands = append(commands, newUpCmd) }

type upOptions struct {
	profile       string
	endpointsFile string
	dir           string
	only          []string
	toxiproxyURL  string
	otlp          string
	stateDir      string
	console       bool
	consoleAddr   string
	deadman       time.Duration
}

func newUpCmd() *cobra.Command {
	var o upOptions
	c := &cobra.Command{
		Use:   "up",
		Short: "Start the whole system on loopback with a Toxiproxy proxy on every edge, until Ctrl-C",
		Long: `Start the whole system on loopback: two PostgreSQL servers and Redis from local binaries,
NATS and the five services by re-executing this binary, and an in-process Toxiproxy with one
named proxy per edge (see 'faultline status' for the list). Services only ever get proxy
addresses.

When everything is ready, up prints one line per endpoint (gateway, toxiproxy, control, each
service's metrics) and writes them as flat JSON to --endpoints-file. It runs until Ctrl-C or
SIGTERM and then tears everything down: processes, proxies, ports, temp dirs.

From another shell, while up runs:
  faultline status                                  components, health, active toxics
  faultline inject 'redirect->link' latency latency=100ms jitter=10ms
  faultline inject 'link->link-db' partition --for 10s
  faultline inject analytics crash restart_after=5s
  faultline heal 'redirect->link'     or     faultline heal --all
(quote edge names: an unquoted > is a shell redirection)

Those commands find the lab through its state file (in $FAULTLINE_STATE_DIR, default
~/.cache/faultline/labs). Network faults go straight to the lab's Toxiproxy API; process
faults (crash, restart, pause) go through up's control endpoint on loopback, because only up,
the parent of every process, can start a component again. Its POSTs need the token in the
state file (mode 0600), and it refuses requests from web pages (Host and Origin checked); the
Toxiproxy API is stock Toxiproxy, unauthenticated (docs/deploy.md says who can reach what).
If up itself is killed with SIGKILL, every child dies with it (parent-death signal) and the
next 'up' removes what is left (temp dirs, state file).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUp(cmd.Context(), cmd, o) },
	}
	f := c.Flags()
	f.StringVar(&o.profile, "profile", "default", "resilience profile: built-in name or YAML path")
	f.StringVar(&o.endpointsFile, "endpoints-file", "", "write the endpoints as flat JSON here when ready")
	f.StringVar(&o.dir, "dir", "", "run directory for logs (default: a temp dir removed on exit)")
	f.StringSliceVar(&o.only, "only", nil, "start only these components (e.g. link-db,redis); proxies exist for every edge")
	f.StringVar(&o.toxiproxyURL, "toxiproxy", "", "use this Toxiproxy API instead of an in-process one")
	f.StringVar(&o.otlp, "otlp-endpoint", "", "OTLP/HTTP endpoint the services export traces to")
	f.StringVar(&o.stateDir, "state-dir", "", "where running labs record their state (default $FAULTLINE_STATE_DIR or ~/.cache/faultline/labs)")
	f.BoolVar(&o.console, "console", false, "serve the game-day console (a live web page with inject, heal, HALT, load, notes) and record the game day into --dir")
	f.StringVar(&o.consoleAddr, "console-addr", "127.0.0.1:0", "console listen address (loopback only)")
	f.DurationVar(&o.deadman, "dead-man", 15*time.Second, "heal faults injected from a console after this long without a console or CLI heartbeat (0 = never)")
	return c
}

func runUp(ctx context.Context, cmd *cobra.Command, o upOptions) error {
	for _, c := range o.only {
		if !topology.IsComponent(c) {
			return usageError{fmt.Errorf("up: --only %q: not a component (known: %s)", c, strings.Join(topology.Components(), ", "))}
		}
	}
	if o.deadman < 0 {
		return usageError{fmt.Errorf("up: --dead-man %s: want >= 0", o.deadman)}
	}
	deadman := o.deadman
	if deadman == 0 {
		deadman = -1 // never
	}
	var gd *gameDay
	if o.console {
		var err error
		if gd, err = startGameDayTelemetry(ctx, &o); err != nil {
			return err
		}
		defer gd.closeReceiver(ctx)
	}
	l, err := lab.Start(ctx, lab.Options{
		Dir: o.dir, Profile: o.profile, OTLPEndpoint: o.otlp, Log: cmd.ErrOrStderr(),
		ToxiproxyURL: o.toxiproxyURL, Components: o.only, StateDir: o.stateDir, Deadman: deadman,
	})
	if err != nil {
		if ctx.Err() != nil { // Ctrl-C during start-up: Start has already undone everything
			fmt.Fprintln(cmd.ErrOrStderr(), "up: interrupted during start-up; nothing left running")
			return nil
		}
		return fmt.Errorf("up: %w", err)
	}
	defer l.Close(context.WithoutCancel(ctx))
	eps := l.Endpoints()
	names := make([]string, 0, len(eps))
	for k := range eps {
		names = append(names, k)
	}
	sort.Strings(names)
	out := cmd.OutOrStdout()
	for _, k := range names {
		fmt.Fprintf(out, "%-20s %s\n", k, eps[k])
	}
	if o.endpointsFile != "" {
		b, _ := json.MarshalIndent(eps, "", "  ")
		// Atomic, so a watcher never reads half a file.
		if err := atomicfile.WriteFile(o.endpointsFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("up: endpoints file: %w", err)
		}
	}
	if gd != nil {
		if err := gd.start(l, o); err != nil {
			return err
		}
		fmt.Fprintf(out, "%-20s %s\n", "console", gd.srv.URL())
		fmt.Fprintf(cmd.ErrOrStderr(), "up: game-day console at %s (open it; the token in it is needed to act); recording into %s\n", gd.srv.URL(), o.dir)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "up: ready; state %s; Ctrl-C to stop\n", l.StatePath())
	<-ctx.Done()
	fmt.Fprintln(cmd.ErrOrStderr(), "up: stopping")
	if gd != nil {
		res, err := gd.finish(ctx, o.dir)
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "up: game day record: %v\n", err)
		}
		if res != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "up: game day recorded in %s (verdict %s); 'faultline report %s' renders it, 'faultline gameday export %s' replays it\n", o.dir, res.Verdict, o.dir, o.dir)
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := l.Close(sctx); err != nil {
		return fmt.Errorf("up: teardown: %w", err)
	}
	return nil
}
