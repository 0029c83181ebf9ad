package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
)

func init() { commands = append(commands, newStatusCmd) }

func newStatusCmd() *cobra.Command {
	var (
		asJSON   bool
		selector string
		stateDir string
	)
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the running lab: components, health, proxies and active toxics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := lab.Attach(stateDir, selector)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			st, err := r.Status(cmd.Context())
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, st)
			}
			fmt.Fprintf(out, "lab pid %d, up %s, profile %s, dir %s\n", st.Pid, st.Uptime, st.Profile, st.Dir)
			fmt.Fprintf(out, "gateway %s  toxiproxy %s  control %s\n\n", st.Endpoints["gateway"], st.Endpoints["toxiproxy"], st.Endpoints["control"])
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COMPONENT\tKIND\tPID\tDIRECT\tSTATE")
			for _, c := range st.Components {
				state := c.State
				if c.Detail != "" {
					state += " (" + firstLine(c.Detail) + ")"
				}
				if c.CPU != "" {
					state += ", cpu limited to " + c.CPU
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", c.Name, c.Kind, c.Pid, c.Direct, state)
			}
			fmt.Fprintln(tw, "\t\t\t\t")
			fmt.Fprintln(tw, "EDGE\tPROXY\tENABLED\tTOXICS\t")
			for _, e := range st.Edges {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t\n", e.Name, e.Listen, e.Enabled, strings.Join(e.Toxics, "; "))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	c.Flags().StringVar(&selector, "lab", "", "which lab: its pid or state file (default: the newest running one)")
	c.Flags().StringVar(&stateDir, "state-dir", "", "state dir of running labs")
	return c
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
