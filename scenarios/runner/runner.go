// Package runner runs one scenario end to end: up → setup → load and fault schedule → data
// checks → traces → judge → run directory.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/internal/runqueue"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/otlp"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/conformance"
	"github.com/faultline/faultline/reports/rundir"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/bounds"
	"github.com/faultline/faultline/scenarios/load"
	"github.com/faultline/faultline/system/policy"
	"github.com/faultline/faultline/toxics"
)

// Options configure one run.
type Options struct {
	File        string              // scenario file (ignored when Scenario is set)
	Scenario    *scenarios.Scenario // an already parsed scenario
	Profile     string              // overrides the scenario's profile
	OutDir      string              // the run directory, created
	Binary      string              // faultline binary the lab re-executes (default: this one)
	Log         io.Writer           // progress and events; nil = silent
	Terminal    bool                // Log is a terminal: one rewritten progress line
	AllowRemote bool                // allow a non-loopback load target
	OTLPForward string              // also forward every span to this OTLP/HTTP endpoint
	// ExpectVerdict overrides the scenario's expected verdict (a negative control expects fail).
	ExpectVerdict string
	// Start brings the system up; nil means the process backend (lab.Start). Another backend
	// (containers, compose) plugs in here.
	Start func(ctx context.Context, o lab.Options) (System, error)
	// RetryInvalid repeats a run whose only outcome was an invalid measurement (the load
	// generator fell behind, spans were lost) up to this many times. Fails are never repeated.
	RetryInvalid int
	// Settle bounds the wait for analytics to catch up before the click invariant is judged
	// (default scenarios.MaxCaughtUpWithin, so a scenario's caught_up_within always fits).
	Settle time.Duration
	// GzipSpans writes the run's spans as spans.jsonl.gz (rundir.Record.GzipSpans).
	GzipSpans bool
	// Watch, when set, starts a live view of the run (faultline run --console) once the
	// set-up is done and the load is about to start; stop is called before the system goes
	// down, on every path. An error ends the run as an error.
	Watch func(sys System, w *Watch) (stop func(), err error)
}

// onlyInvalid says whether a run proved nothing because its measurement was invalid: an error
// verdict from an invalid measurement alone, or any invalid run of a negative control (a fail
// from an invalid measurement earns no kill, so only a repeat can give it a verdict). An own
// run's fail stands and is never repeated.
func onlyInvalid(res *reports.Results) bool {
	if res.Valid {
		return false
	}
	return res.Verdict == reports.VerdictError || (res.ExpectedVerdict == reports.VerdictFail && res.Verdict == reports.VerdictFail)
}

// System is a running system under test, whatever backend started it.
type System interface {
	Gateway() string                // base URL of the public API, through the client->gateway proxy
	Direct(component string) string // a service's base URL, bypassing proxies (data checks, metrics)
	Env() toxics.Env                // what faults act through
	Close(ctx context.Context) error
}

// localProcesses is a System that can name the process on this machine serving each
// component (processes, or containers on this machine's engine): the runner then measures how
// long their threads waited for a CPU (internal/runqueue), which the timing checks need to
// tell the machine's lateness from a policy's.
type localProcesses interface {
	Pid(component string) int
}

// cpuWaits sums up rq per service, for the report; nil when nothing was sampled.
func cpuWaits(rq *runqueue.Record) []reports.CPUWait {
	var out []reports.CPUWait
	for _, svc := range services {
		s := rq.Summarize(svc)
		if s.Intervals == 0 {
			continue
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		out = append(out, reports.CPUWait{Service: svc, IntervalMs: ms(rq.Every()), Intervals: s.Intervals,
			LongestMs: ms(s.Longest), P99Ms: ms(s.P99), StarvedPct: 100 * float64(s.Starved) / float64(s.Intervals)})
	}
	return out
}

// StartProcesses is the default backend: every component as a local process.
func StartProcesses(ctx context.Context, o lab.Options) (System, error) { return lab.Start(ctx, o) }

// ErrInvalidScenario marks a scenario that could not be parsed: the caller's input, exit 2.
var ErrInvalidScenario = errors.New("runner: invalid scenario")

// Run runs one scenario. It returns the results even when the verdict is error; err is set only
// when the results could not be produced or written at all.
func Run(ctx context.Context, o Options) (*reports.Results, error) {
	sc := o.Scenario
	if sc == nil {
		var err error
		if sc, err = scenarios.ParseFile(o.File); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidScenario, err)
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Start == nil {
		o.Start = StartProcesses
	}
	if o.Settle == 0 {
		o.Settle = scenarios.MaxCaughtUpWithin
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	var discarded []string
	for attempt := 0; ; attempt++ {
		r := &run{o: o, sc: sc, profile: sc.Profile}
		if o.Profile != "" {
			r.profile = o.Profile
		}
		res := r.execute(ctx)
		// An invalid measurement is not a verdict about the system: on a shared machine the
		// generator can be starved. Such a run may be repeated on a fresh system; a fail never is.
		if onlyInvalid(res) && attempt < o.RetryInvalid && ctx.Err() == nil {
			why := strings.Join(res.InvalidReasons, "; ")
			fmt.Fprintf(o.Log, "  measurement invalid (%s): running again on a fresh system\n", why)
			discarded = append(discarded, fmt.Sprintf("attempt %d discarded, measurement invalid: %s", attempt+1, why))
			continue
		}
		res.Reasons = append(res.Reasons, discarded...)
		if err := r.write(res); err != nil {
			return res, err
		}
		return res, nil
	}
}

type run struct {
	o       Options
	sc      *scenarios.Scenario
	profile string

	mu      sync.Mutex
	samples []reports.Sample
	results []load.Result // raw, for the generator's honesty check
	streams []load.Stream
	// send runs the load (load.Start: from the generator's own process, or this one)
	send  load.SendFunc
	tally load.Tally // what the client was answered: the data checks' ground truth
	start time.Time
	spans []traces.Span
	// transitions are the breaker state changes the services logged.
	transitions []reports.BreakerTransition
	// runQueue is how long the services' threads waited for a CPU during the load; nil when
	// the system's processes are not this machine's children (a container backend).
	runQueue *runqueue.Record
	watch    *Watch // never nil during the load
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "  "+format+"\n", args...)
}

// execute does the work; every failure ends as a verdict of error with the reason, never as a
// missing result.
func (r *run) execute(ctx context.Context) *reports.Results {
	sc := r.sc
	res := &reports.Results{
		Scenario: sc.Name, Description: strings.TrimSpace(sc.Description), File: sc.File,
		Profile: r.profile, Seed: sc.Seed, StartedAt: time.Now().UTC(),
		ExpectedVerdict: sc.Expect.Verdict, Valid: true, Phases: sc.Phases(),
		DesignBounds: bounds.Results(sc, r.profile),
	}
	if r.o.ExpectVerdict != "" {
		res.ExpectedVerdict = r.o.ExpectVerdict
	}
	if p, err := policy.Load(r.profile); err == nil {
		res.ProfileDigest = policy.Digest(p)
	}
	if res.ExpectedVerdict == "" {
		res.ExpectedVerdict = reports.VerdictPass
	}
	err := r.drive(ctx, res)
	r.judge(res, err)
	return res
}

func (r *run) drive(ctx context.Context, res *reports.Results) (err error) {
	sc := r.sc
	recv := otlp.NewReceiver(otlp.Options{Forward: r.o.OTLPForward})
	endpoint, err := recv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("runner: trace receiver: %w", err)
	}
	defer recv.Close(context.WithoutCancel(ctx))

	fmt.Fprintf(r.o.Log, "▶ %s (profile %s, %s): starting the system\n", sc.Name, r.profile, sc.Duration)
	since := time.Now() // the services' log lines of this attempt start here
	l, err := r.o.Start(ctx, lab.Options{Dir: r.o.OutDir, Profile: r.profile, Binary: r.o.Binary, OTLPEndpoint: endpoint})
	if err != nil {
		return fmt.Errorf("runner: start the system: %w", err)
	}
	labClosed := false
	defer func() {
		if !labClosed {
			l.Close(context.WithoutCancel(ctx))
		}
	}()

	plan, err := r.plan()
	if err != nil {
		return err
	}
	spanCounters := map[string]counterRead{}
	for _, svc := range services {
		spanCounters[svc] = readSpanCounter(ctx, httpClient(), l.Direct(svc))
	}
	baseline := clickBaseline(ctx, httpClient(), l.Direct("analytics")) // a used stack's earlier clicks
	setupStart := time.Now()
	codes, err := r.setup(ctx, l.Gateway())
	res.SetupS = time.Since(setupStart).Seconds()
	if err != nil {
		return fmt.Errorf("runner: setup: %w", err)
	}
	recv.Reset() // spans of the set-up are not part of the experiment

	r.streams = load.StreamsFrom(sc, codes)
	// the generator is started before the run's clock: its start-up is no part of the schedule
	send, stopLoad, err := load.Start(ctx, load.GeneratorBinary(r.o.Binary), l.Gateway(), r.streams, sc.Duration.D(),
		load.Options{Seed: sc.Seed, AllowRemote: r.o.AllowRemote})
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	defer stopLoad()
	r.send = send
	stopSampling := func() {}
	if lp, ok := l.(localProcesses); ok && runqueue.Supported() {
		sampler := runqueue.Start(services, lp.Pid, runqueue.Every)
		stopSampling = func() { r.runQueue = sampler.Stop() }
		defer stopSampling()
	}
	r.start = time.Now()
	r.watch = newWatch(sc, r.start, recv.Spans)
	if r.o.Watch != nil {
		stop, err := r.o.Watch(l, r.watch)
		if err != nil {
			return fmt.Errorf("runner: console: %w", err)
		}
		defer stop() // before the lab's Close: the view reads the system until then
	}
	res.StartedAt = r.start.UTC()
	abort := r.loadAndFaults(ctx, l, plan, res)
	stopSampling()
	res.Abort = abort
	res.DurationS = time.Since(r.start).Seconds()
	loadEnd := time.Now()
	if ctx.Err() != nil {
		return fmt.Errorf("runner: interrupted: %w", ctx.Err())
	}

	// Every fault is healed now; the invariants are judged on the healed system.
	fmt.Fprintf(r.o.Log, "  checking data safety (%d acknowledged links)\n", len(r.tally.Links()))
	dc := &dataChecker{client: httpClient(), gateway: l.Gateway(), redirect: l.Direct("redirect"), analytics: l.Direct("analytics"), settle: settleFor(r.o.Settle, r.sc.Expect.Data), baseline: baseline, loadEnd: loadEnd}
	res.DataSafety = dc.check(ctx, &r.tally)

	// Closing the lab sends SIGTERM, so every service flushes its spans to the receiver first
	// and logs its final count of what it could not export.
	labClosed = true
	if cerr := l.Close(context.WithoutCancel(ctx)); cerr != nil {
		r.logf("teardown: %v", cerr)
	}
	r.spans = recv.Spans()
	dropped, unknown := sdkSpanLoss(ctx, httpClient(), l.Direct, filepath.Join(r.o.OutDir, "logs"), since, spanCounters, killedBy(res.Faults))
	th := recv.Stats().Telemetry(dropped)
	th.SDKLossUnknown = unknown
	th.Notes = append(th.Notes, unknownLossNotes(unknown)...)
	res.Telemetry = &th
	r.transitions = breakerTransitions(filepath.Join(r.o.OutDir, "logs"), r.start)
	return nil
}

// plan turns the scenario's faults into toxics, so a bad parameter fails before anything runs.
func (r *run) plan() ([]plannedFault, error) {
	var plan []plannedFault
	for _, f := range r.sc.Faults {
		tf, err := f.Build()
		if err != nil {
			return nil, fmt.Errorf("runner: fault %s on %s: %w", f.Fault, f.Target(), err)
		}
		plan = append(plan, plannedFault{Name: f.Fault, Target: f.Target(), At: f.Start(), For: f.For.D(), Fault: tf, Params: f.Params, Background: f.Background})
	}
	return plan, nil
}

// judge computes every figure and verdict from what was collected.
func (r *run) judge(res *reports.Results, runErr error) {
	sc := r.sc
	res.Phases = sc.RunPhases(res.Faults) // from when each fault was applied and healed
	phases := res.Phases
	reports.AssignPhases(r.samples, phases)
	res.Streams = reports.Figures(r.samples, withAsked(sc.Streams(), r.streams), phases)
	res.SLOs = verdict.EvaluateSLOs(r.samples, sc.SLOs, phases)
	res.Timeseries = reports.Timeseries(r.samples)
	if len(r.results) > 0 || len(r.streams) > 0 {
		if ok, why := load.ValidGenerator(r.results, r.streams); !ok {
			res.Valid = false
			res.InvalidReasons = append(res.InvalidReasons, why)
		}
	}
	// A phase sent more than 0.5 % under its asked rate measured the generator: invalid.
	if why := verdict.RateShort(res.Streams, phases); len(why) > 0 {
		res.Valid = false
		res.InvalidReasons = append(res.InvalidReasons, why...)
	}
	var origins []string
	for _, f := range sc.Faults {
		origins = append(origins, f.Target())
	}
	if runErr == nil {
		an := traces.Analyze(r.spans, loadWindows(phases, res.DurationS), r.start)
		res.ServiceMap = an.ServiceMap()
		res.BlastRadius = an.BlastRadius(origins, sc.Blast, userImpact(r.samples, sc))
		res.Mechanisms = an.Mechanisms(res.Faults, r.transitions)
		// A fault that did not land tested nothing: never a pass, never a kill.
		for i, l := range an.Landings(res.Faults, r.samples) {
			res.Faults[i].Landing = &l
		}
		if why := verdict.NotLanded(res.Faults); len(why) > 0 {
			res.Valid = false
			res.InvalidReasons = append(res.InvalidReasons, why...)
		}
		res.Expectations = append(res.Expectations, verdict.JudgeTraces(sc.Expect.BlastRadius, sc.Expect.Mechanisms, res.BlastRadius, res.Mechanisms)...)
		res.Expectations = append(res.Expectations, verdict.JudgeData(res.DataSafety, sc.Expect.Data)...)
		res.Conformance = verdict.JudgeConformance(r.profile, conformance.Input{Spans: r.spans, Start: r.start,
			Transitions: r.transitions, Skips: sc.Expect.Conformance.Skips(), SpansLost: verdict.SpansLost(res.Telemetry), Faults: res.Faults,
			Stalls: conformance.StallsOf(r.start, r.samples), RunQueue: r.runQueue})
		res.CPUWaits = cpuWaits(r.runQueue)
		if t := res.Telemetry; t != nil && sc.Expect.NeedsTraces() {
			if why := verdict.SpanLossInvalid(t); why != "" {
				res.Valid = false
				res.InvalidReasons = append(res.InvalidReasons, why)
			}
		}
	}
	verdict.Decide(res, runErr)
}

// loadWindows cuts the phase windows at the load's end (seconds from the start): what starts
// after it is the lab's own work on the healed system (the data checks read every link and
// the counts the moment the load ends, a few milliseconds before the planned end, or long
// before it after an abort), no part of any phase's traffic. The load ends with its last
// answer; only work the system went on with for a client that had given up starts later.
func loadWindows(phases []reports.PhaseWindow, endS float64) []reports.PhaseWindow {
	var out []reports.PhaseWindow
	for _, w := range phases {
		if w.StartS >= endS {
			continue
		}
		w.EndS = min(w.EndS, endS)
		out = append(out, w)
	}
	return out
}

// userImpact is, per stream, the share of fault-phase requests that failed or were slower than
// the stream's tightest fault-phase latency threshold (or, with none, that failed).
func userImpact(samples []reports.Sample, sc *scenarios.Scenario) map[string]float64 {
	limit := map[string]float64{} // stream → ms
	for _, slo := range sc.SLOs {
		if !containsPhase(slo.Phases, reports.PhaseFault) {
			continue
		}
		for _, t := range slo.Thresholds {
			if t.Unit == reports.UnitMs && (t.Op == "<" || t.Op == "<=") {
				if cur, ok := limit[slo.Load]; !ok || t.Value < cur {
					limit[slo.Load] = t.Value
				}
			}
		}
	}
	total, bad := map[string]int{}, map[string]int{}
	for _, s := range samples {
		if s.Phase != reports.PhaseFault {
			continue
		}
		total[s.Stream]++
		ms := float64(s.Latency) / float64(time.Millisecond)
		if lim, ok := limit[s.Stream]; s.Failed() || (ok && ms > lim) {
			bad[s.Stream]++
		}
	}
	out := map[string]float64{}
	for st, n := range total {
		out[st] = float64(bad[st]) / float64(n)
	}
	return out
}

func containsPhase(phases []string, p string) bool {
	for _, x := range phases {
		if x == p || x == reports.PhaseAll {
			return true
		}
	}
	return false
}

// write lays out the run directory, then renders its report from it.
func (r *run) write(res *reports.Results) error {
	scenario, err := r.sc.ResolvedYAML()
	return errors.Join(err, rundir.Write(r.o.OutDir, rundir.Record{
		Scenario: scenario, Samples: r.samples, Spans: r.spans, Results: res, GzipSpans: r.o.GzipSpans,
		Timeline: rundir.Timeline{Faults: res.Faults, Breakers: r.transitions, Abort: res.Abort},
	}), renderHTML(r.o.OutDir))
}

// settleFor is how long the data check waits for analytics: the run's bound, or less when the
// scenario expects analytics caught up sooner. Past caught_up_within (from the load's end,
// which came before the wait began) the verdict is a failure whatever arrives later, so a
// longer wait would only tell late from lost, at up to half a minute per run.
func settleFor(bound time.Duration, exp *verdict.ExpectData) time.Duration {
	if exp != nil && exp.CaughtUpWithin > 0 {
		return min(bound, exp.CaughtUpWithin+time.Second)
	}
	return bound
}
