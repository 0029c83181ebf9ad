package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
)

func init() { commands = append(commands, newBenchCmd) }

func newBenchCmd() *cobra.Command {
	var (
		requests int
		profile  string
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the lab: cold start to the first redirect, and what the proxies cost",
		Long: `Start the whole system, time it to the first successful redirect through the gateway
(with a warm PostgreSQL template cache), then start a second copy whose services bypass the
proxies and measure cache-hit redirects through both, alternating in batches of 25 on
keep-alive connections. Reports p50/p99 of each and the ratio. Figures are recorded in
BENCHMARKS.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if requests <= 0 {
				return usageError{fmt.Errorf("bench: --requests must be > 0")}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			r, err := lab.Bench(ctx, lab.Options{Profile: profile, Log: cmd.ErrOrStderr()}, requests)
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			fmt.Fprintf(out, "cold start to first redirect  %v (lab ready %v)\n", r.ColdStart.Round(time.Millisecond), r.LabReady.Round(time.Millisecond))
			fmt.Fprintf(out, "redirect through all proxies  p50 %v  p99 %v  (%d requests, %d errors)\n", r.ProxiedP50, r.ProxiedP99, r.Requests, r.ProxiedErrs)
			fmt.Fprintf(out, "redirect bypassing proxies    p50 %v  p99 %v  (%d requests, %d errors)\n", r.DirectP50, r.DirectP99, r.Requests, r.DirectErrs)
			fmt.Fprintf(out, "proxied / direct p50          %.3f×\n", r.Ratio)
			return nil
		},
	}
	c.Flags().IntVar(&requests, "requests", 2000, "redirects measured per variant")
	c.Flags().StringVar(&profile, "profile", "default", "resilience profile")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}
