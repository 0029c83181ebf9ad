package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/system/topology"
)

func init() { commands = append(commands, newHealCmd) }

func newHealCmd() *cobra.Command {
	var (
		all      bool
		selector string
		stateDir string
	)
	c := &cobra.Command{
		Use:   "heal [--all | EDGE-OR-COMPONENT]",
		Short: "Undo faults in the running lab: remove toxics, enable proxies, resume and restart processes",
		Long: `Heal one edge (remove every toxic, enable the proxy) or one component (resume it if
paused, start it again if crashed), or everything with --all.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := ""
			switch {
			case all && len(args) > 0:
				return usageError{errors.New("heal: give a target or --all, not both")}
			case !all && len(args) == 0:
				return usageError{errors.New("heal: give a target (edge or component) or --all")}
			case len(args) == 1:
				target = args[0]
				if !topology.IsEdge(target) && !topology.IsComponent(target) {
					return usageError{fmt.Errorf("heal: %q is neither an edge nor a component", target)}
				}
			}
			r, err := lab.Attach(stateDir, selector)
			if err != nil {
				return fmt.Errorf("heal: %w", err)
			}
			if err := r.Heal(cmd.Context(), target); err != nil {
				return fmt.Errorf("heal: %w", err)
			}
			if target == "" {
				target = "everything"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "healed %s (lab pid %d)\n", target, r.State.Pid)
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "heal every edge and component")
	c.Flags().StringVar(&selector, "lab", "", "which lab: its pid or state file (default: the newest running one)")
	c.Flags().StringVar(&stateDir, "state-dir", "", "state dir of running labs")
	return c
}
