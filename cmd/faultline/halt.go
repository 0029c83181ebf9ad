package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
)

func init() { commands = append(commands, newHaltCmd) }

func newHaltCmd() *cobra.Command {
	var (
		release  bool
		selector string
		stateDir string
	)
	c := &cobra.Command{
		Use:   "halt [--release]",
		Short: "Emergency stop of the running lab: heal every fault, stop the load, refuse new faults",
		Long: `HALT the lab that 'faultline up' runs, exactly as the console's HALT button does: every
fault is healed (recorded ones and any toxic found on a proxy), the console's load streams
stop, and every later inject, from a console or 'faultline inject', is refused until someone
runs 'faultline halt --release' (or presses Release in a console). The halt and its release
go on the game day's timeline with the user's name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := lab.Attach(stateDir, selector)
			if err != nil {
				return fmt.Errorf("halt: %w", err)
			}
			if release {
				if err := r.Release(cmd.Context(), whoAmI()); err != nil {
					return fmt.Errorf("halt: release: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "released the halt (lab pid %d): faults can be injected again\n", r.State.Pid)
				return nil
			}
			if err := r.Halt(cmd.Context(), whoAmI()); err != nil {
				return fmt.Errorf("halt: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "HALTED (lab pid %d): every fault healed, load stopped, injects refused until 'faultline halt --release'\n", r.State.Pid)
			return nil
		},
	}
	c.Flags().BoolVar(&release, "release", false, "lift the halt: faults can be injected again")
	c.Flags().StringVar(&selector, "lab", "", "which lab: its pid or state file (default: the newest running one)")
	c.Flags().StringVar(&stateDir, "state-dir", "", "state dir of running labs")
	return c
}
