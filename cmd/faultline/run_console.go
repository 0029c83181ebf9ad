package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/console"
	"github.com/faultline/faultline/scenarios/runner"
)

// addConsoleFlags adds run's --console: the game-day console, live, during each run.
func addConsoleFlags(c *cobra.Command, o *runOptions) {
	c.Flags().BoolVar(&o.console, "console", false, "serve the game-day console during each run (live map, load, faults, timeline; inject, heal, notes; HALT stops the run's load and heals its faults, and the run is then 'halted': never a pass, exit 1; a fault injected or a scheduled one healed by hand makes the run invalid). The address is printed when the load starts; --retry-invalid is off")
	c.Flags().StringVar(&o.consoleAddr, "console-addr", "127.0.0.1:0", "console listen address with --console (loopback only)")
}

// checkConsole refuses --console where it cannot work, before anything runs.
func checkConsole(o runOptions, otherBackend bool) error {
	if !o.console {
		return nil
	}
	if otherBackend {
		return errors.New("--console needs the process backend (no --target compose or containers)")
	}
	return console.CheckAddr(o.consoleAddr)
}

// consoleWatch starts the console on a run's system once its load is about to start.
func consoleWatch(o runOptions, log io.Writer) func(runner.System, *runner.Watch) (func(), error) {
	if !o.console {
		return nil
	}
	return func(sys runner.System, w *runner.Watch) (func(), error) {
		l, ok := sys.(*lab.Lab)
		if !ok {
			return nil, errors.New("--console needs the process backend (no --target)")
		}
		srv, err := console.ForRun(l, w, o.consoleAddr)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "  console: %s (open it; the token in it is needed to act; HALT ends the run as halted)\n", srv.URL())
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Close(ctx)
		}, nil
	}
}
