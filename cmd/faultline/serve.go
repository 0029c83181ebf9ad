package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/system"
)

func init() { commands = append(commands, newServeCmd) }

// newServeCmd is `faultline serve NAME [flags]`: one component of the system. Flag parsing is
// the component's own (flags + environment), so cobra passes everything through.
func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve NAME [flags]",
		Short: "Run one component of the shortener (gateway, link, redirect, analytics, billing, nats) or the lab's toxiproxy",
		Long: "Run one component of the URL shortener until SIGTERM/SIGINT (drains in-flight requests,\n" +
			"flushes spans and buffered events, exits 0). Every flag has an environment equivalent\n" +
			"(docs/contracts.md); the flag wins. `faultline serve NAME --help` lists NAME's flags.\n\nComponents:\n" +
			system.Help() +
			"  toxiproxy   the lab's Toxiproxy build: the stock toxics plus http_error, http_latency,\n" +
			"              http_reset (flags: --listen HOST:PORT, default 0.0.0.0:8474; --config FILE)\n",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
				if len(args) == 0 {
					_ = cmd.Help()
					return usageError{errors.New("serve: missing component NAME")}
				}
				return cmd.Help()
			}
			if args[0] == "toxiproxy" {
				return serveToxiproxy(cmd, args[1:])
			}
			err := system.Run(cmd.Context(), args[0], args[1:], os.Getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if errors.Is(err, system.ErrUsage) {
				return usageError{fmt.Errorf("serve %s: %w", args[0], err)}
			}
			return err
		},
	}
}
