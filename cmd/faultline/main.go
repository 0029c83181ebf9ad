// Command faultline runs the shortener's components (`faultline serve`) and the chaos lab that
// breaks them on purpose and judges how they behave (every other subcommand).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes scripts can rely on.
const (
	exitOK       = 0 // everything as expected
	exitMismatch = 1 // some scenario not as expected, or a command failed
	exitUsage    = 2 // bad usage or invalid input file
)

// usageError marks errors that are the caller's (flags, arguments, invalid files): exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// printJSON writes v as indented JSON, for every --json flag.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// errMismatch is returned when a command ran but something was not as expected: exit 1.
var errMismatch = errors.New("not as expected")

// commands is filled by each subcommand file's init, so adding one touches one file.
var commands []func() *cobra.Command

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errMismatch):
		return exitMismatch
	}
	fmt.Fprintln(stderr, "faultline:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitMismatch
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "faultline",
		Short: "Chaos and resilience test lab for a URL-shortener microservices system",
		Long: `Faultline starts a complete URL-shortener system (gateway, link, redirect, analytics,
billing, two PostgreSQL servers, Redis, NATS JetStream) on loopback, puts a Toxiproxy proxy on
every network edge, drives open-model load, injects faults on a schedule, and judges SLOs,
blast radius and data safety against each scenario's expectations.

Exit codes: 0 all as expected, 1 something was not as expected (or failed), 2 bad usage or an
invalid file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

// isCobraUsage recognises cobra's own argument errors, which it does not type.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires exactly", "unknown flag", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
