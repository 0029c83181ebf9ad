package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/scenarios/runner"
)

func init() { commands = append(commands, newBenchCmd) }

func newBenchCmd() *cobra.Command {
	var (
		requests int
		profile  string
		asJSON   bool
		rates    []float64
		dur      time.Duration
		toxicMs  float64
		loadMode bool
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the lab: cold start to the first redirect, and what the proxies cost",
		Long: `Start the whole system, time it to the first successful redirect through the gateway
(with a warm PostgreSQL template cache), then start a second copy whose services bypass the
proxies and measure cache-hit redirects through both, alternating in batches of 25 on
keep-alive connections. Reports p50/p99 of each and the ratio. Figures are recorded in
BENCHMARKS.md.

With --load, it measures the load generator instead: cached redirects through the gateway at
each asked rate (achieved rate, latency, send lag, whether the run would count as valid), then a
latency toxic on client->gateway measured by the generator against the same path without it.`,
		Example: `  faultline bench
  faultline bench --load --rates 100,1000,5000 --for 5s --toxic 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if requests <= 0 {
				return usageError{fmt.Errorf("bench: --requests must be > 0")}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			if loadMode {
				return benchLoad(ctx, cmd, profile, rates, dur, toxicMs, asJSON)
			}
			r, err := lab.Bench(ctx, lab.Options{Profile: profile, Log: cmd.ErrOrStderr()}, requests)
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, r)
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
	c.Flags().BoolVar(&loadMode, "load", false, "measure the load generator against the gateway instead")
	c.Flags().Float64SliceVar(&rates, "rates", []float64{100, 1000, 5000}, "with --load: asked rates per second")
	c.Flags().DurationVar(&dur, "for", 5*time.Second, "with --load: how long each rate runs")
	c.Flags().Float64Var(&toxicMs, "toxic", 50, "with --load: latency toxic on client->gateway in ms (0 = skip)")
	return c
}

func benchLoad(ctx context.Context, cmd *cobra.Command, profile string, rates []float64, d time.Duration, toxicMs float64, asJSON bool) error {
	for _, r := range rates {
		if r <= 0 || r > 20000 {
			return usageError{fmt.Errorf("bench: rate %g: want 0 < rate <= 20000", r)}
		}
	}
	r, err := runner.LoadBench(ctx, lab.Options{Profile: profile, Log: cmd.ErrOrStderr()}, rates, d, toxicMs)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return printJSON(out, r)
	}
	fmt.Fprintf(out, "%8s %10s %9s %7s %8s %8s %10s  %s\n", "asked/s", "achieved/s", "requests", "errors", "p50 ms", "p99 ms", "lag p99 ms", "valid")
	for _, f := range r.Rates {
		valid := "yes"
		if !f.ValidRun {
			valid = "no: " + f.InvalidWhy
		}
		fmt.Fprintf(out, "%8.0f %10.1f %9d %7d %8.2f %8.2f %10.2f  %s\n", f.Asked, f.Achieved, f.Requests, f.Errors, f.P50Ms, f.P99Ms, f.LagP99Ms, valid)
	}
	if r.ToxicAskedMs > 0 {
		fmt.Fprintf(out, "latency toxic %.0f ms on client->gateway: p50 %.2f → %.2f ms, measured +%.2f ms\n", r.ToxicAskedMs, r.ToxicBaseP50Ms, r.ToxicP50Ms, r.ToxicMeasuredMs)
	}
	return nil
}
