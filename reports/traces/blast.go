package traces

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

// Defaults of the blast-radius thresholds, used for every zero field of reports.BlastThresholds.
// A service or edge is affected when, in the fault phase against the baseline phase, its error
// rate rises by at least ErrorRateDelta (absolute, 0.05 = 5 points) or its p99 is at least
// LatencyFactor times the baseline p99 and at least LatencyMinMs more. A fault phase with fewer
// than MinCalls calls (breakers upstream cut a service's traffic, which is common) compares p50
// instead of p99: the p99 of a dozen calls is their maximum, and one stray pause would decide it.
//
// A baseline of fewer than MinCalls calls cannot be compared with: traffic that appears only
// with the fault (a fallback path, cache misses falling through to link, a low-rate stream) is
// then judged on the fault phase alone, against absolute bounds: affected when its error rate
// reaches DefaultAbsErrorRate or its p99 (p50 below MinCalls fault calls) reaches
// DefaultAbsLatencyMs. Healthy calls on loopback take well under 5 ms and the default
// profile's tightest timeouts are 50-200 ms, so 250 ms is a fault on any edge; and 5% failing
// is what the relative rule calls affected on a clean baseline. Fewer than MinFaultCalls
// fault-phase calls cannot be judged at all: the series is unproven (neither affected nor
// shown unaffected), and an expectation that depends on it fails as no data.
const (
	DefaultErrorRateDelta = 0.05
	DefaultLatencyFactor  = 2.0
	// On 2 shared cores one busy neighbour lifts every service's p99 at once: 5 → 26 ms for
	// Redis, analytics-db and redirect alike, none on the fault's path (click-ack-lost beside
	// another run, 2026-12-01). 50 ms is beyond that noise and far below what a fault that
	// spreads adds (a timeout of 50-500 ms, or the fault's own latency).
	DefaultLatencyMinMs = 50.0
	DefaultAbsErrorRate = 0.05
	DefaultAbsLatencyMs = 250.0
	MinCalls            = 20
	MinFaultCalls       = 10
)

// Stop reasons of a propagation path, read from the fault-phase spans where it stopped.
const (
	StopBreaker      = "breaker"           // resilience.breaker.rejected or state open on the hop's edge
	StopFallback     = "fallback"          // resilience.fallback set
	StopCache        = "cache"             // most of the hop's requests were cache hits
	StopTimeout      = "timeout"           // resilience.timeout cut the slow calls short
	StopAbsorbed     = "absorbed"          // none of the above: the caller just coped
	StopInsufficient = "insufficient data" // the caller where it stopped was unproven
	StopNoCallers    = "no traced callers"
)

// CacheShareStop is the share of cache hits above which a hop counts as shielded by its cache.
const CacheShareStop = 0.5

// WithDefaults fills the zero fields of th with the documented defaults.
func WithDefaults(th reports.BlastThresholds) reports.BlastThresholds {
	if th.ErrorRateDelta <= 0 {
		th.ErrorRateDelta = DefaultErrorRateDelta
	}
	if th.LatencyFactor <= 0 {
		th.LatencyFactor = DefaultLatencyFactor
	}
	if th.LatencyMinMs <= 0 {
		th.LatencyMinMs = DefaultLatencyMinMs
	}
	if th.AbsErrorRate <= 0 {
		th.AbsErrorRate = DefaultAbsErrorRate
	}
	if th.AbsLatencyMs <= 0 {
		th.AbsLatencyMs = DefaultAbsLatencyMs
	}
	th.MinBaselineCalls, th.MinFaultCalls = MinCalls, MinFaultCalls
	return th
}

// Unproven is how ServiceImpact.Why begins for a series with too few fault-phase calls.
const Unproven = "unproven"

// verdict is one series judged against its baseline (or, with a short baseline, against the
// absolute bounds). unproven: too few fault-phase calls to say anything.
type verdict struct {
	affected, unproven, absolute bool
	why                          string
}

func judgeSeries(sr series, th reports.BlastThresholds) verdict {
	base, fault := sr.get(reports.PhaseBaseline), sr.get(reports.PhaseFault)
	if fault.calls < MinFaultCalls {
		return verdict{unproven: true, why: fmt.Sprintf(
			Unproven+": %d fault-phase calls (need %d; %d in the baseline)", fault.calls, MinFaultCalls, base.calls)}
	}
	if base.calls < MinCalls {
		return judgeAbsolute(base, fault, th)
	}
	bf, ff := base.figure(reports.PhaseBaseline), fault.figure(reports.PhaseFault)
	var reasons []string
	if d := ff.ErrorRate - bf.ErrorRate; d >= th.ErrorRateDelta {
		reasons = append(reasons, fmt.Sprintf("error rate %s → %s (+%.1f pts ≥ %.1f)",
			pct(bf.ErrorRate), pct(ff.ErrorRate), d*100, th.ErrorRateDelta*100))
	}
	q, b, f := "p99", bf.P99Ms, ff.P99Ms
	if fault.calls < MinCalls {
		q, b, f = "p50", bf.P50Ms, ff.P50Ms
	}
	if f >= th.LatencyFactor*b && f >= b+th.LatencyMinMs {
		reasons = append(reasons, fmt.Sprintf("%s %.1f ms → %.1f ms (≥ %.1f× and +%.0f ms)",
			q, b, f, th.LatencyFactor, th.LatencyMinMs))
	}
	few := ""
	if fault.calls < MinCalls {
		few = fmt.Sprintf(" (only %d fault calls: p50 compared)", fault.calls)
	}
	if len(reasons) > 0 {
		return verdict{affected: true, why: strings.Join(reasons, "; ") + few}
	}
	return verdict{why: fmt.Sprintf("within thresholds: error rate %s → %s, %s %.1f → %.1f ms%s",
		pct(bf.ErrorRate), pct(ff.ErrorRate), q, b, f, few)}
}

// judgeAbsolute judges a fault phase whose baseline is too short to compare with: on the
// absolute bounds alone, never "not affected" for want of a baseline.
func judgeAbsolute(base, fault acc, th reports.BlastThresholds) verdict {
	ff := fault.figure(reports.PhaseFault)
	q, f := "p99", ff.P99Ms
	if fault.calls < MinCalls {
		q, f = "p50", ff.P50Ms
	}
	short := fmt.Sprintf("short baseline (%d calls, need %d), %d fault calls judged on absolute bounds: ", base.calls, MinCalls, fault.calls)
	var reasons []string
	if ff.ErrorRate >= th.AbsErrorRate {
		reasons = append(reasons, fmt.Sprintf("error rate %s ≥ %s", pct(ff.ErrorRate), pct(th.AbsErrorRate)))
	}
	if f >= th.AbsLatencyMs {
		reasons = append(reasons, fmt.Sprintf("%s %.1f ms ≥ %.0f ms", q, f, th.AbsLatencyMs))
	}
	if len(reasons) > 0 {
		return verdict{affected: true, absolute: true, why: short + strings.Join(reasons, "; ")}
	}
	return verdict{absolute: true, why: fmt.Sprintf("%swithin them: error rate %s < %s, %s %.1f < %.0f ms",
		short, pct(ff.ErrorRate), pct(th.AbsErrorRate), q, f, th.AbsLatencyMs)}
}

// judgeService judges a service on all its server spans and on each route alone, so a slow
// route is not hidden by a busy fast one (20 slow creates among 300 fast redirects). A route
// with too few fault-phase calls to judge makes the service unproven when one of those calls
// failed or took AbsLatencyMs: a low-rate route failing outright hides among a busy one's
// calls. Sporadic calls that were all healthy (a few cache misses that fell through to link
// while Redis was slow) prove nothing either way and leave the service's verdict alone.
func (ix *index) judgeService(name string, th reports.BlastThresholds) verdict {
	v := judgeSeries(ix.svc[name], th)
	if v.affected {
		return v
	}
	routes := ix.routes[name]
	if len(routes) < 2 {
		return v
	}
	var unproven *verdict
	for _, r := range sortedKeys(routes) {
		rv := judgeSeries(routes[r], th)
		if rv.affected {
			return verdict{affected: true, absolute: rv.absolute, why: "route " + r + ": " + rv.why}
		}
		if harm := sparseHarm(routes[r].get(reports.PhaseFault), th); rv.unproven && harm != "" && unproven == nil && !v.unproven {
			unproven = &verdict{unproven: true, why: fmt.Sprintf("%s: route %s: %s, too few fault-phase calls to judge (need %d)",
				Unproven, r, harm, MinFaultCalls)}
		}
	}
	if unproven != nil {
		return *unproven
	}
	return v
}

// sparseHarm says what, among a few fault-phase calls, looks like harm: a failure or a call as
// slow as the absolute latency bound.
func sparseHarm(a acc, th reports.BlastThresholds) string {
	slowest := 0.0
	for _, d := range a.durMs {
		slowest = max(slowest, d)
	}
	switch {
	case a.errors > 0:
		return fmt.Sprintf("%d of %d fault-phase calls failed", a.errors, a.calls)
	case slowest >= th.AbsLatencyMs:
		return fmt.Sprintf("a fault-phase call took %.0f ms", slowest)
	}
	return ""
}

// OriginComponent is the component a fault target stands for: the callee of an edge
// (link->link-db → link-db), or the component itself.
func OriginComponent(target string) string {
	if _, to, ok := topology.SplitEdge(target); ok {
		return to
	}
	return target
}

// ImpactOf finds the line of br about name: a service, or an edge when name is from->to.
func ImpactOf(br *reports.BlastRadius, name string) (reports.ServiceImpact, bool) {
	kind := "service"
	if _, _, ok := topology.SplitEdge(name); ok {
		kind = "edge"
	}
	for _, si := range br.Services {
		if si.Name == name && si.Kind == kind {
			return si, true
		}
	}
	return reports.ServiceImpact{}, false
}

// BlastRadius says how far the faults on origins spread. Every service with server spans, every
// component only seen as a callee (stores: judged from their callers' client spans) and every
// edge of the service map is compared between the fault and baseline phases (see the Default*
// thresholds). The propagation walks caller edges from each origin's component towards the
// gateway: a hop continues while the caller service is affected, else the path stops there and
// the fault-phase spans of that hop say what stopped it (breaker, fallback, cache, timeout,
// else absorbed). userImpact (stream → share of fault-phase requests failed or too slow, from
// the load results) is copied as given.
func BlastRadius(spans []Span, phases []reports.PhaseWindow, start time.Time, origins []string,
	th reports.BlastThresholds, userImpact map[string]float64) *reports.BlastRadius {
	ix := buildIndex(spans, phases, start)
	return ix.blastRadius(origins, WithDefaults(th), userImpact)
}

func (ix *index) blastRadius(origins []string, th reports.BlastThresholds, userImpact map[string]float64) *reports.BlastRadius {
	br := &reports.BlastRadius{
		Origins:          slices.Clone(origins),
		Thresholds:       th,
		AffectedServices: []string{},
		AffectedEdges:    []string{},
		UserImpact:       maps.Clone(userImpact),
		Propagation:      []reports.PropagationPath{},
		LateDeliveries:   ix.lateServed,
	}
	br.UnprovenServices = []string{}
	affected := map[string]bool{}
	insufficient := map[string]bool{}
	names := map[string]bool{}
	for n := range ix.svc {
		names[n] = true
	}
	for n := range ix.callee {
		names[n] = true
	}
	for _, n := range sortedKeys(names) {
		var v verdict
		phases := ix.svc[n]
		if phases != nil {
			v = ix.judgeService(n, th)
		} else {
			phases = ix.callee[n]
			v = judgeSeries(phases, th)
			v.why += " (measured by its callers' client spans)"
		}
		br.Services = append(br.Services, reports.ServiceImpact{Name: n, Kind: "service", Affected: v.affected,
			Unproven: v.unproven, Absolute: v.absolute, Why: v.why, Phases: phases.figures(ix.ph.names)})
		if v.affected {
			affected[n] = true
			br.AffectedServices = append(br.AffectedServices, n)
		}
		if v.unproven {
			br.UnprovenServices = append(br.UnprovenServices, n)
		}
		insufficient[n] = v.unproven
	}
	edgeAffected := map[string]bool{}
	for _, e := range sortedKeys(ix.edges) {
		v := judgeSeries(ix.edges[e], th)
		br.Services = append(br.Services, reports.ServiceImpact{Name: e, Kind: "edge", Affected: v.affected,
			Unproven: v.unproven, Absolute: v.absolute, Why: v.why, Phases: ix.edges[e].figures(ix.ph.names)})
		if v.affected {
			edgeAffected[e] = true
			br.AffectedEdges = append(br.AffectedEdges, e)
		}
	}
	w := walker{ix: ix, affected: affected, insufficient: insufficient, edgeAffected: edgeAffected, callers: ix.callers()}
	seen := map[string]bool{}
	for _, o := range origins {
		c := OriginComponent(o)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		w.walk([]string{c}, &br.Propagation)
	}
	return br
}

// callers maps a component to the edges that call it, client->gateway left out.
func (ix *index) callers() map[string][]string {
	out := map[string][]string{}
	for _, e := range sortedKeys(ix.edges) {
		from, to, _ := topology.SplitEdge(e)
		if from == topology.Client || from == to {
			continue
		}
		out[to] = append(out[to], e)
	}
	return out
}

type walker struct {
	ix                     *index
	affected, insufficient map[string]bool
	edgeAffected           map[string]bool
	callers                map[string][]string
}

// walk extends path (origin first) through every caller of its last component.
func (w walker) walk(path []string, out *[]reports.PropagationPath) {
	cur := path[len(path)-1]
	if cur == topology.Entry {
		p := reports.PropagationPath{Path: slices.Clone(path)}
		if w.affected[cur] || w.edgeAffected[topology.EdgeName(topology.Client, topology.Entry)] {
			p.Reached = true
		} else {
			p.StoppedAt, p.StoppedBy = cur, w.stopReason(cur, w.prevEdge(path))
		}
		*out = append(*out, p)
		return
	}
	var next []string
	for _, e := range w.callers[cur] {
		from, _, _ := topology.SplitEdge(e)
		if !slices.Contains(path, from) {
			next = append(next, e)
		}
	}
	if len(next) == 0 {
		*out = append(*out, reports.PropagationPath{Path: slices.Clone(path), StoppedAt: cur, StoppedBy: StopNoCallers})
		return
	}
	for _, e := range next {
		from, _, _ := topology.SplitEdge(e)
		np := append(slices.Clone(path), from)
		if w.affected[from] {
			w.walk(np, out)
			continue
		}
		*out = append(*out, reports.PropagationPath{Path: np, StoppedAt: from, StoppedBy: w.stopReason(from, e)})
	}
}

func (w walker) prevEdge(path []string) string {
	if len(path) < 2 {
		return ""
	}
	return topology.EdgeName(path[len(path)-1], path[len(path)-2])
}

// stopReason reads the fault-phase spans of svc on edge (and svc's server spans) for what kept
// the fault from passing svc: the first of breaker, fallback, cache, timeout that shows.
func (w walker) stopReason(svc, edge string) string {
	if w.insufficient[svc] {
		return StopInsufficient
	}
	var breaker, fallback, timeout, cacheSeen, cacheHit int
	for _, e := range []string{edge, svc + "->*"} {
		for _, i := range w.ix.mechSpans[e] {
			s := &w.ix.spans[i]
			if w.ix.phase[i] != reports.PhaseFault || s.Service != svc {
				continue
			}
			if s.Bool(AttrBreakerRejected) || s.Attr(AttrBreakerState) == BreakerOpen {
				breaker++
			}
			if s.Attr(AttrFallback) != "" {
				fallback++
			}
			if s.Bool(AttrTimeout) {
				timeout++
			}
		}
	}
	for _, i := range w.ix.cacheSpans[svc] {
		if w.ix.phase[i] != reports.PhaseFault {
			continue
		}
		cacheSeen++
		if w.ix.spans[i].Bool(AttrCacheHit) {
			cacheHit++
		}
	}
	switch {
	case breaker > 0:
		return StopBreaker
	case fallback > 0:
		return StopFallback
	case cacheSeen > 0 && float64(cacheHit)/float64(cacheSeen) >= CacheShareStop:
		return StopCache
	case timeout > 0:
		return StopTimeout
	}
	return StopAbsorbed
}
