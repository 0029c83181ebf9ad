package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/internal/percentile"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios/load"
	"github.com/faultline/faultline/toxics"
)

// RateFigure is what the load generator achieved against the real gateway at one asked rate.
type RateFigure struct {
	Asked float64 `json:"asked_per_s"`
	// Achieved is requests ÷ the wall-clock send window (reports.SendWindow), never ÷ the
	// nominal duration: a generator that ran late reads under the asked rate.
	Achieved    float64 `json:"achieved_per_s"`
	SendWindowS float64 `json:"send_window_s"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	LagP99Ms    float64 `json:"send_lag_p99_ms"`
	LagP999Ms   float64 `json:"send_lag_p999_ms"`
	LagMaxMs    float64 `json:"send_lag_max_ms"`
	ValidRun    bool    `json:"valid"`
	InvalidWhy  string  `json:"invalid_why,omitempty"`
}

// LoadBenchResult is the generator's honesty check: rates it can hold, and whether a known
// latency shows up as itself.
type LoadBenchResult struct {
	Rates []RateFigure `json:"rates"`
	// ToxicAskedMs is the latency toxic put on client->gateway; ToxicMeasuredMs is the rise of
	// the median redirect latency the generator saw with it, in the same run.
	ToxicAskedMs    float64 `json:"toxic_asked_ms"`
	ToxicBaseP50Ms  float64 `json:"toxic_base_p50_ms"`
	ToxicP50Ms      float64 `json:"toxic_p50_ms"`
	ToxicMeasuredMs float64 `json:"toxic_measured_ms"`
}

// LoadBench starts the system and drives cached redirects through the gateway at each rate for
// d, then measures a latency toxic of toxicMs on client->gateway at the first rate.
func LoadBench(ctx context.Context, o lab.Options, rates []float64, d time.Duration, toxicMs float64) (LoadBenchResult, error) {
	var out LoadBenchResult
	l, err := lab.Start(ctx, o)
	if err != nil {
		return out, err
	}
	defer l.Close(context.WithoutCancel(ctx))
	setup, err := load.Setup(ctx, l.Gateway(), 50, load.SetupOptions{Seed: 1})
	if err != nil {
		return out, err
	}
	codes := setup.Codes()
	// Warm the cache and the connection pools, so the figures are about steady state.
	if _, err := benchRate(ctx, l.Gateway(), codes, 200, 2*time.Second); err != nil {
		return out, err
	}
	// The toxic is measured first, at the lowest rate, so no backlog from a heavier rate
	// leaks into its baseline.
	if toxicMs > 0 && len(rates) > 0 {
		if err := measureToxic(ctx, l, codes, rates[0], d, toxicMs, &out); err != nil {
			return out, err
		}
	}
	for _, rate := range rates {
		f, err := benchRate(ctx, l.Gateway(), codes, rate, d)
		if err != nil {
			return out, err
		}
		out.Rates = append(out.Rates, f)
	}
	return out, nil
}

func measureToxic(ctx context.Context, l *lab.Lab, codes []string, rate float64, d time.Duration, toxicMs float64, out *LoadBenchResult) error {
	base, err := benchRate(ctx, l.Gateway(), codes, rate, d)
	if err != nil {
		return err
	}
	tf, err := toxics.New("latency", map[string]any{"latency": fmt.Sprintf("%gms", toxicMs)})
	if err != nil {
		return err
	}
	undo, err := tf.Apply(ctx, l.Env(), "client->gateway")
	if err != nil {
		return err
	}
	slow, err := benchRate(ctx, l.Gateway(), codes, rate, d)
	if uerr := undo(context.WithoutCancel(ctx)); err == nil {
		err = uerr
	}
	if err != nil {
		return err
	}
	out.ToxicAskedMs, out.ToxicBaseP50Ms, out.ToxicP50Ms = toxicMs, base.P50Ms, slow.P50Ms
	out.ToxicMeasuredMs = slow.P50Ms - base.P50Ms
	return nil
}

func benchRate(ctx context.Context, gateway string, codes []string, rate float64, d time.Duration) (RateFigure, error) {
	st := []load.Stream{{Name: "redirect", Method: "GET", Path: "/r/{code}", Rate: rate, Codes: codes}}
	var results []load.Result
	// the generator a run uses (its own process, when this is faultline), so the figures are a run's
	send, stop, err := load.Start(ctx, load.GeneratorBinary(""), gateway, st, d, load.Options{Seed: 1})
	if err != nil {
		return RateFigure{}, err
	}
	err = send(ctx, nil, func(r load.Result) { results = append(results, r) })
	stop()
	if err != nil {
		return RateFigure{}, err
	}
	if len(results) == 0 {
		return RateFigure{Asked: rate, InvalidWhy: "no request was sent"}, nil
	}
	// Offsets count from the schedule's start, the intended send time of the first request,
	// and the whole run is one phase: the same figures and rule as a scenario run's.
	var began time.Time
	for _, r := range results {
		if began.IsZero() || r.Scheduled.Before(began) {
			began = r.Scheduled
		}
	}
	samples := make([]reports.Sample, len(results))
	for i, r := range results {
		samples[i] = r.Sample(began)
	}
	windows := []reports.PhaseWindow{{Name: reports.PhaseBaseline, StartS: 0, EndS: d.Seconds()}}
	reports.AssignPhases(samples, windows)
	figs := reports.Figures(samples, []reports.StreamSpec{{Name: "redirect", Rate: rate, Asked: st[0].Asked}}, windows)
	ph := figs[0].Phases[0]
	f := RateFigure{Asked: rate, Requests: len(results), Achieved: ph.AchievedRate, SendWindowS: ph.SendWindowS,
		Errors: reports.CountFailed(samples)}
	lat, lag := reports.Latencies(samples), make([]float64, 0, len(results))
	for _, r := range results {
		lag = append(lag, float64(r.Lag())/1e6)
	}
	sort.Float64s(lag)
	f.P50Ms, f.P99Ms, f.LagP99Ms = percentile.Of(lat, 50), percentile.Of(lat, 99), percentile.Of(lag, 99)
	f.LagP999Ms, f.LagMaxMs = percentile.Of(lag, 99.9), lag[len(lag)-1]
	ok, why := load.ValidGenerator(results, st)
	short := verdict.RateShort(figs, windows)
	if !ok {
		short = append([]string{why}, short...)
	}
	f.ValidRun, f.InvalidWhy = len(short) == 0, strings.Join(short, "; ")
	return f, nil
}
