package bounds

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/conformance"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/load"
	"github.com/faultline/faultline/system/policy"
	"github.com/faultline/faultline/system/topology"
)

// Statuses of a threshold held against its stream's bound.
const (
	// Looser: a latency threshold above the bound plus the tolerance. No answer can be that
	// slow, so slowness alone cannot fail it: a warning.
	Looser = "looser"
	// Within: a latency threshold at or below the bound plus the tolerance.
	Within = "within"
	// NotLatency: errors, rate, goodput, or a lower bound on latency; the design bounds
	// latency from above only.
	NotLatency = "not_latency"
)

// Threshold is one SLO threshold of a stream, held against the stream's bound.
type Threshold struct {
	SLO, Index int           // slos[SLO].thresholds[Index]
	Pos        scenarios.Pos // where it is written (zero when not parsed from a file)
	Phases     []string
	Raw        string
	Status     string
}

// Stream is one load stream: the route its request reaches, the worst latency the profile
// allows there, and its SLO thresholds held against it.
type Stream struct {
	Name, Request string
	// Route is the gateway route the request reaches; "" when none (no design bound).
	Route string
	// Chain derives the design's worst case on Route (Chain.Worst), given the faults.
	Chain Step
	// Open says why the design bounds nothing on this stream, if so.
	Open string
	// Limit is the longest any answer can be measured: the design's worst case, else the
	// load generator's own timeout. LimitBy says which.
	Limit   time.Duration
	LimitBy string
	// Tolerance is the scheduling slack allowed above Limit (reports/conformance's).
	Tolerance  time.Duration
	Thresholds []Threshold
}

// Check derives, for each load stream of sc, the worst latency profile p allows on its
// route, and holds each of the stream's SLO thresholds against it.
func Check(sc *scenarios.Scenario, p *policy.Profile) []Stream {
	open, held := Effects(sc.Faults)
	out := make([]Stream, 0, len(sc.Load))
	for _, st := range sc.Load {
		s := Stream{Name: st.Name, Request: st.Request, Limit: load.DefaultTimeout,
			LimitBy: fmt.Sprintf("the load generator's timeout %s", load.DefaultTimeout)}
		if r, ok := routeOf(st.Method, st.Path); ok {
			s.Route = r.name
			s.Chain = routeStep(p, r, held)
		}
		switch {
		case s.Route == "":
			s.Open = "the request reaches no guarded gateway route"
		case open != "":
			s.Open = open
		case !s.Chain.Worst.Bounded:
			s.Open = fmt.Sprintf("profile %s leaves route %s unbounded", p.Name, s.Route)
		case s.Chain.Worst.D < s.Limit:
			s.Limit, s.LimitBy = s.Chain.Worst.D, fmt.Sprintf("the design's worst case %s on route %s", s.Chain.Worst.D, s.Route)
		}
		if s.Open != "" {
			s.LimitBy += " (no design bound: " + s.Open + ")"
		}
		s.Tolerance = conformance.Tolerance(s.Limit)
		s.Thresholds = judge(sc, st.Name, s.Limit+s.Tolerance)
		out = append(out, s)
	}
	return out
}

// judge holds every threshold on stream against the longest latency it can measure.
func judge(sc *scenarios.Scenario, stream string, longest time.Duration) []Threshold {
	var out []Threshold
	for i, slo := range sc.SLOs {
		if slo.Load != stream {
			continue
		}
		for j, t := range slo.Thresholds {
			out = append(out, Threshold{SLO: i, Index: j, Pos: sc.ThresholdPos(i, j), Phases: slo.Phases, Raw: t.Raw,
				Status: status(t, longest)})
		}
	}
	return out
}

// status: a latency ceiling no answer can reach is looser than the design. Every latency
// metric (percentiles, mean, median, min, max, their _ok forms) is at most the slowest
// answer, so one rule covers them all.
func status(t verdict.Threshold, longest time.Duration) string {
	if t.Unit != reports.UnitMs || (t.Op != "<" && t.Op != "<=") {
		return NotLatency
	}
	if limit := float64(longest) / float64(time.Millisecond); t.Value > limit {
		return Looser
	}
	return Within
}

// Warnings are the stream's thresholds looser than its bound, in words.
func (s Stream) Warnings() []string {
	var out []string
	for _, t := range s.Thresholds {
		if t.Status == Looser {
			out = append(out, s.Warning(t))
		}
	}
	return out
}

// Warning says why threshold t is looser than the stream's bound.
func (s Stream) Warning(t Threshold) string {
	return fmt.Sprintf("slos[%d].thresholds[%d]: %q on stream %s (%s) is looser than %s (+%s tolerance): slowness alone cannot fail it",
		t.SLO, t.Index, t.Raw, s.Name, strings.Join(t.Phases, ", "), s.LimitBy, s.Tolerance)
}

// Effects reads what a scenario's faults do to the bounds. open is why no design bound holds
// at all: a fault on client->gateway acts before the gateway's guards, and a frozen gateway
// cannot run its timers. held maps each edge whose answer a fault can hold past its callee's
// own worst case to that fault: any network fault on the edge, or a process fault other than
// crash and restart (which end calls at once) on the callee. Faults count whatever their
// phase: a call sent just before a fault starts is held by it too.
func Effects(faults []scenarios.Fault) (open string, held Held) {
	held = Held{}
	for _, f := range faults {
		what := fmt.Sprintf("%s on %s", f.Fault, f.Target())
		switch {
		case f.Kind == scenarios.KindNetwork && f.Edge == policy.GuardEdge:
			open = fmt.Sprintf("%s acts before the gateway's guards", what)
		case f.Kind == scenarios.KindNetwork:
			held[f.Edge] = what
		case f.Kind == scenarios.KindProcess && !slices.Contains(endsCalls, f.Fault):
			if f.Component == gateway {
				open = fmt.Sprintf("%s stops the gateway's own timers", what)
				continue
			}
			for _, e := range topology.EdgeNames() {
				if callee(e) == f.Component {
					held[e] = what
				}
			}
		}
	}
	return open, held
}

// endsCalls are the process faults that end the calls in flight at once (the kernel resets
// a killed process's connections) rather than holding them.
var endsCalls = []string{"crash", "restart"}

const gateway = "gateway"

// Results is results.json's design_bounds for a run of sc with profile (a name or a path).
func Results(sc *scenarios.Scenario, profile string) *reports.DesignBounds {
	out := &reports.DesignBounds{Profile: profile, Warnings: []string{}}
	p, err := policy.Load(profile)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	for _, s := range Check(sc, p) {
		b := reports.StreamBound{Stream: s.Name, Route: s.Route, LimitMs: ms(s.Limit), LimitBy: s.LimitBy, ToleranceMs: ms(s.Tolerance)}
		if s.Route != "" {
			b.Derivation = s.Chain.Lines()
		}
		if s.Open == "" {
			w := ms(s.Chain.Worst.D)
			b.WorstMs = &w
		}
		out.Streams = append(out.Streams, b)
		out.Warnings = append(out.Warnings, s.Warnings()...)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
