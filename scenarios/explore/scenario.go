package explore

import (
	_ "embed"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
)

//go:embed steady.yaml
var steadyYAML []byte

// Phase floors of one experiment. The fault and the recovery are as long as their checks
// need at the base's rates (Base.Phases: every SLO threshold's verdict.Threshold.MinSamples
// requests, with a margin), the baseline BaselineShare of that, and never shorter than these:
// a baseline to compare with, a fault long enough for a breaker's window to fill and its
// timeouts to fire, a recovery as long as the profiles' breaker delay (2 s), so it shows
// whether the breaker closes.
const (
	MinBaseline = 1 * time.Second
	// BaselineShare is the baseline's length against the other phases'. Its checks prove no
	// outcome (held is the fault's and the recovery's, each with its full count: reports/
	// explore.Classify); a baseline only has to show a system already failing, which one
	// failure in it does, and bring the calls the landing rule compares the fault's with. The
	// system between experiments is healed and checked healthy first (run.afterwards).
	BaselineShare = 0.4
	MinFault      = 2 * time.Second
	MinRecovery   = 2 * time.Second
	// PhaseMargin covers a generator a little behind its rate and a phase boundary that moves
	// with the fault's apply time: a phase is planned for this many times the requests it needs.
	PhaseMargin = 1.25
	// PhaseStep is what phase lengths are rounded up to.
	PhaseStep = 500 * time.Millisecond
)

// Phases are the lengths of one experiment's baseline, fault and recovery.
type Phases struct {
	Baseline, Fault, Recovery time.Duration
}

// Total is the experiment's duration.
func (p Phases) Total() time.Duration { return p.Baseline + p.Fault + p.Recovery }

// Phases derives the experiment's phases from the base's rates and SLOs: the fault and the
// recovery last long enough that every stream brings, at its rate, PhaseMargin × the requests
// its thresholds need to prove a pass (verdict.Threshold.MinSamples; a pass on fewer is judged
// no data by reports/explore.Classify), the baseline BaselineShare of that, each rounded up to
// PhaseStep and at least its floor.
// Counts, not seconds, are what the checks need: a faster load gives shorter phases.
func (b Base) Phases() Phases {
	rates := b.Rates()
	var need time.Duration
	for _, slo := range b.SLOs {
		r := rates[slo.Load]
		if r <= 0 {
			continue
		}
		for _, t := range slo.Thresholds {
			d := time.Duration(PhaseMargin * float64(t.MinSamples()) / r * float64(time.Second))
			need = max(need, d)
		}
	}
	base := roundUp(time.Duration(BaselineShare*float64(need)), PhaseStep)
	need = roundUp(need, PhaseStep)
	return Phases{Baseline: max(base, MinBaseline), Fault: max(need, MinFault), Recovery: max(need, MinRecovery)}
}

// PhasesFor is Phases for an experiment with these faults: its fault phase also lasts
// LatencyWindows × the longest latency a fault injects (rounded up to PhaseStep), so the calls
// of the window's first part see the whole latency before the heal releases them — else a
// latency past every timeout (3 s on an edge without one) lands on no call (the landing rule
// finds none slower than it) and the experiment proves nothing.
func (b Base) PhasesFor(faults []Fault) Phases {
	p := b.Phases()
	var lat time.Duration
	for _, f := range faults {
		lat = max(lat, injectedLatency(f))
	}
	if need := roundUp(LatencyWindows*lat, PhaseStep); need > p.Fault {
		p.Fault = need
	}
	if slices.ContainsFunc(faults, func(f Fault) bool { return f.Class == ClassHTTPPoison }) {
		p.Fault = max(p.Fault, PoisonMinFault)
	}
	return p
}

// PoisonMinFault is the shortest fault phase of an experiment with poisoned keys. A poisoned
// request is decided by its whole retry chain, up to the gateway route's timeout (1 s for a
// redirect), not by the injected latency: the requests of the phase's last second meet the
// heal before that and succeed. Measured 2026-12-03 (no-budget, 450 redirects/s): in a 2 s
// fault phase the 504s came from its first 1.1 s only, 1.1 % errors where retry-budget.yaml's
// 10 s gave 1.5-2.75 %; five seconds keep that edge to a fifth of the phase.
const PoisonMinFault = 5 * time.Second

// LatencyWindows is how many times its injected latency a fault phase lasts at least.
const LatencyWindows = 2

// injectedLatency is the latency a fault holds calls for (latency and http_latency), else 0.
func injectedLatency(f Fault) time.Duration {
	s, ok := f.Params["latency"].(string)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}

// rateText spells a rate per second as the scenario format reads it.
func rateText(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

func roundUp(d, step time.Duration) time.Duration {
	if rem := d % step; rem != 0 {
		d += step - rem
	}
	return d
}

// Base is what every experiment shares: the load, the SLOs and the set-up of SCENARIO.
type Base struct {
	Name    string
	File    string
	Profile string
	Seed    int64
	Links   int
	Load    []scenarios.Stream
	SLOs    []verdict.SLO
}

// DefaultBase is the built-in steady mix (steady.yaml).
func DefaultBase() Base {
	sc, err := scenarios.Parse("explore/steady.yaml", steadyYAML)
	if err != nil {
		panic(fmt.Sprintf("explore: the built-in load does not parse: %v", err)) // a test keeps it valid
	}
	b, err := BaseFrom(sc)
	if err != nil {
		panic(fmt.Sprintf("explore: the built-in load: %v", err))
	}
	b.File = ""
	return b
}

// BaseFrom takes the load and SLOs of a scenario. Its faults are ignored (the explorer brings
// its own); a stream must have a constant rate, since a ramp or a surge would cut the phases
// of every experiment.
func BaseFrom(sc *scenarios.Scenario) (Base, error) {
	b := Base{Name: sc.Name, File: sc.File, Profile: sc.Profile, Seed: sc.Seed, Links: sc.Setup.Links, Load: sc.Load, SLOs: sc.SLOs}
	for _, st := range sc.Load {
		if st.Ramp != nil || len(st.Stages) > 0 {
			return Base{}, fmt.Errorf("explore: %s: stream %s: the explorer needs a constant rate (no ramp or stages)", sc.File, st.Name)
		}
	}
	if len(sc.SLOs) == 0 {
		return Base{}, fmt.Errorf("explore: %s: no SLOs: nothing could tell a weak spot from a held one", sc.File)
	}
	return b, nil
}

// Requests lists the streams' requests for Learn.
func (b Base) Requests() []StreamRequest {
	out := make([]StreamRequest, len(b.Load))
	for i, s := range b.Load {
		out[i] = StreamRequest{s.Name, s.Request}
	}
	return out
}

// Rates gives each stream's rate.
func (b Base) Rates() map[string]float64 {
	out := map[string]float64{}
	for _, s := range b.Load {
		out[s.Name] = s.Rate
	}
	return out
}

// Spec is what a generated scenario says beyond the base: its name, description, faults
// and comments placed above the SLOs and the expectations.
type Spec struct {
	Name        string
	Description string
	Profile     string
	Faults      []Fault
	SLOComments []string
	Comments    []string // above expect
	// MaxRetries expects at most this many retries per call on each edge (a retry storm's
	// weak spot): expect.mechanisms.max_retries_per_request.
	MaxRetries map[string]int
	// CaughtUpWithin, when set, expects analytics to have counted everything this soon after
	// the load (expect.data.caught_up_within): a data weak spot's promise.
	CaughtUpWithin time.Duration
}

// Baseline is the base's load with no fault: the run the path map is learned from.
func (b Base) Baseline(profile string) ([]byte, error) {
	return b.yaml(Spec{Name: "explore-baseline", Description: "The explorer's baseline: the load without faults, to learn each stream's path.", Profile: profile})
}

// Experiment is the scenario of one experiment: baseline, the faults, recovery, the base's
// SLOs in every phase and every data-safety counter at 0.
func (b Base) Experiment(e Experiment, profile string) ([]byte, error) {
	return b.yaml(Spec{Name: ScenarioName(e.ID), Profile: profile, Faults: e.Faults,
		Description: "Explorer experiment " + e.ID + " on the paths of " + strings.Join(e.Streams, ", ") + "."})
}

// ScenarioName turns an experiment id into a scenario name: lower-case, [a-z0-9_-], at most
// 63 characters (a hash keeps long pair names unique).
func ScenarioName(id string) string {
	r := strings.NewReplacer("@", "-", "->", "-", "+", "--", ".", "-", " & ", "---")
	n := "x-" + r.Replace(id)
	if len(n) > 63 {
		h := fnv.New32a()
		h.Write([]byte(id))
		n = fmt.Sprintf("%s-%08x", n[:54], h.Sum32())
	}
	return n
}

// yaml writes a scenario in the catalogue's format and parses it back with the catalogue's
// parser, so whatever the explorer runs or writes is a valid scenario file.
func (b Base) yaml(s Spec) ([]byte, error) {
	var w strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&w, "name: %s\n", s.Name)
	fmt.Fprintf(&w, "description: %s\n", q(s.Description))
	fmt.Fprintf(&w, "profile: %s\n", q(s.Profile))
	fmt.Fprintf(&w, "seed: %d\n", b.Seed)
	ph := b.PhasesFor(s.Faults)
	fmt.Fprintf(&w, "duration: %s\n", ph.Total())
	fmt.Fprintf(&w, "setup: {links: %d}\n", b.Links)
	w.WriteString("load:\n")
	for _, st := range b.Load {
		rate := "rate: " + rateText(st.Rate)
		if sg, ok := surgeOf(s.Faults, st.Name); ok {
			// the scenario format's own surge: stages cut the phases like a fault (one load path)
			rate = fmt.Sprintf("stages: [{rate: %s, for: %s}, {rate: %s, for: %s}, {rate: %s, for: %s}]",
				rateText(st.Rate), ph.Baseline, rateText(SurgeRate(sg, st.Rate)), ph.Fault, rateText(st.Rate), ph.Recovery)
		}
		fmt.Fprintf(&w, "  - {name: %s, request: %s, %s", st.Name, q(st.Request), rate)
		if st.UsesCodes() && st.Codes > 0 {
			fmt.Fprintf(&w, ", codes: %d", st.Codes)
		}
		if st.Body != "" && st.Body != scenarios.DefaultBody {
			fmt.Fprintf(&w, ", body: %s", q(st.Body))
		}
		w.WriteString("}\n")
	}
	surged := slices.ContainsFunc(s.Faults, IsSurge)
	if slices.ContainsFunc(s.Faults, func(f Fault) bool { return !IsSurge(f) }) {
		w.WriteString("faults:\n")
		for _, f := range s.Faults {
			switch {
			case IsSurge(f): // a surge is the load's stages, above
			case surged && f.Class == ClassMild:
				w.WriteString("  - " + faultYAML(f, 0, ph.Total(), true) + "\n")
			default:
				w.WriteString("  - " + faultYAML(f, ph.Baseline, ph.Fault, false) + "\n")
			}
		}
	}
	w.WriteString("slos:\n")
	for _, c := range s.SLOComments {
		w.WriteString("  # " + c + "\n")
	}
	quote := func(ts []string) string {
		for i := range ts {
			ts[i] = q(ts[i])
		}
		return strings.Join(ts, ", ")
	}
	for _, slo := range b.SLOs {
		var th []string
		for _, t := range slo.Thresholds {
			th = append(th, t.Raw)
		}
		phases := phasesOf(slo, len(s.Faults) > 0)
		sg, ok := surgeOf(s.Faults, slo.Load)
		if !ok || !slices.Contains(phases, reports.PhaseFault) {
			fmt.Fprintf(&w, "  - {load: %s, phases: [%s], thresholds: [%s]}\n", slo.Load, strings.Join(phases, ", "), quote(th))
			continue
		}
		// the surged stream: its own SLOs around the surge, the shedding promise during it
		if rest := slices.DeleteFunc(slices.Clone(phases), func(p string) bool { return p == reports.PhaseFault }); len(rest) > 0 {
			fmt.Fprintf(&w, "  - {load: %s, phases: [%s], thresholds: [%s]}\n", slo.Load, strings.Join(rest, ", "), quote(th))
		}
		rate := b.Rates()[slo.Load]
		w.WriteString("  # " + surgeSLONote(sg, rate) + "\n")
		fmt.Fprintf(&w, "  - {load: %s, phases: [%s], thresholds: [%s]}\n", slo.Load, reports.PhaseFault, quote(SurgeThresholds(slo, rate)))
	}
	for _, c := range s.Comments {
		w.WriteString("# " + c + "\n")
	}
	w.WriteString("expect:\n  verdict: pass\n")
	caught := ""
	if s.CaughtUpWithin > 0 {
		caught = ", caught_up_within: " + s.CaughtUpWithin.String()
	}
	w.WriteString("  data: {lost_links: 0, duplicate_clicks: 0, missing_clicks: 0, lost_link_events: 0, duplicate_link_events: 0" + caught + "}\n")
	if len(s.MaxRetries) > 0 {
		var kv []string
		for _, e := range slices.Sorted(maps.Keys(s.MaxRetries)) {
			kv = append(kv, fmt.Sprintf("%s: %d", e, s.MaxRetries[e]))
		}
		w.WriteString("  mechanisms:\n    max_retries_per_request: {" + strings.Join(kv, ", ") + "}\n")
	}
	out := []byte(w.String())
	if _, err := scenarios.Parse(s.Name+".yaml", out); err != nil {
		return nil, fmt.Errorf("explore: generated scenario %s does not parse: %w", s.Name, err)
	}
	return out, nil
}

// phasesOf spells an SLO's phases for an experiment: "all" becomes each of baseline, fault
// and recovery, so the report can tell which one broke.
func phasesOf(slo verdict.SLO, faults bool) []string {
	if !faults {
		return []string{reports.PhaseAll}
	}
	var out []string
	for _, p := range slo.Phases {
		if p == reports.PhaseAll {
			return []string{reports.PhaseBaseline, reports.PhaseFault, reports.PhaseRecovery}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return []string{reports.PhaseBaseline, reports.PhaseFault, reports.PhaseRecovery}
	}
	return out
}

// faultYAML is one fault of the schedule, from at for dur: the fault phase (the end of the
// baseline, for the phase), or, for a background fault, the whole experiment — the
// environment a surge meets (a mild latency), not the failure, as overload.yaml's link-db
// latency; a limiter that learns the latency (adaptive) then knows it before the surge, as in
// surge-adaptive.yaml.
func faultYAML(f Fault, at, dur time.Duration, background bool) string {
	var parts []string
	switch {
	case f.Type == "crash":
		parts = append(parts, fmt.Sprintf("at: %s", at), "crash: "+f.Target, fmt.Sprintf("restart_after: %s", dur))
	case onComponent(f):
		parts = append(parts, fmt.Sprintf("at: %s", at), fmt.Sprintf("for: %s", dur), "component: "+f.Target, "fault: "+f.Type)
	default:
		parts = append(parts, fmt.Sprintf("at: %s", at), fmt.Sprintf("for: %s", dur), "edge: "+f.Target, "toxic: "+f.Type)
	}
	for _, kv := range strings.Fields(f.ParamText()) {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, k+": "+v)
	}
	if background {
		parts = append(parts, "background: true")
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
