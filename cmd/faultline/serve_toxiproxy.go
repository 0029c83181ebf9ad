package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
)

// serveToxiproxy is `faultline serve toxiproxy [--listen HOST:PORT] [--config FILE]`.
func serveToxiproxy(cmd *cobra.Command, args []string) error {
	fs := flag.NewFlagSet("serve toxiproxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "0.0.0.0:8474", "address of the Toxiproxy API")
	config := fs.String("config", "", "Toxiproxy proxies file (JSON) to create at start, as the stock -config")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fs.SetOutput(cmd.OutOrStdout())
			fmt.Fprintln(cmd.OutOrStdout(), "Usage: faultline serve toxiproxy [--listen HOST:PORT] [--config FILE]")
			fs.PrintDefaults()
			return nil
		}
		return usageError{fmt.Errorf("serve toxiproxy: %w", err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("serve toxiproxy: unexpected argument %q", fs.Arg(0))}
	}
	return lab.ServeToxiproxy(cmd.Context(), *listen, *config, cmd.ErrOrStderr())
}
