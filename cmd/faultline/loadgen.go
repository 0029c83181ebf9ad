package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios/load"
)

func init() { commands = append(commands, newLoadgenCmd) }

// newLoadgenCmd is `faultline loadgen`: the load generator of a run in a process of its own
// (scenarios/load.StartProcess), spoken to over stdin and stdout. Not for people: hidden.
func newLoadgenCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "loadgen",
		Short:  "The lab's load generator process (internal: started by faultline run)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return load.ServeProcess(os.Stdin, os.Stdout)
		},
	}
}
