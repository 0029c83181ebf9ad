package traces

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/faultline/faultline/internal/percentile"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

// spanKey finds a span by its ids.
type spanKey struct {
	trace TraceID
	span  SpanID
}

// acc gathers one series' calls in one phase.
type acc struct {
	calls, errors int
	durMs         []float64
}

func (a *acc) add(s *Span) { a.addCall(s.Failed(), s.durMs()) }

func (a *acc) addCall(failed bool, durMs float64) {
	a.calls++
	if failed {
		a.errors++
	}
	a.durMs = append(a.durMs, durMs)
}

// durMs is the span's duration in milliseconds, as the figures count it.
func (s *Span) durMs() float64 { return float64(s.Duration()) / float64(time.Millisecond) }

// series is one service's, route's or edge's calls per phase.
type series map[string]*acc

func (sr series) add(phase string, s *Span) {
	a := sr[phase]
	if a == nil {
		a = &acc{}
		sr[phase] = a
	}
	a.add(s)
}

func (sr series) get(phase string) acc {
	if a := sr[phase]; a != nil {
		return *a
	}
	return acc{}
}

// figure summarises a phase with exact (nearest-rank) percentiles.
func (a acc) figure(phase string) reports.EdgeFigure {
	f := reports.EdgeFigure{Phase: phase, Calls: a.calls, Errors: a.errors}
	if a.calls > 0 {
		f.ErrorRate = float64(a.errors) / float64(a.calls)
	}
	if len(a.durMs) > 0 {
		d := append([]float64(nil), a.durMs...)
		sort.Float64s(d)
		f.P50Ms = round3(percentile.Of(d, 50))
		f.P99Ms = round3(percentile.Of(d, 99))
	}
	return f
}

func (sr series) figures(phases []string) []reports.EdgeFigure {
	out := make([]reports.EdgeFigure, 0, len(phases))
	for _, p := range phases {
		out = append(out, sr.get(p).figure(p))
	}
	return out
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// phaser places a time in a phase window.
type phaser struct {
	windows []reports.PhaseWindow
	start   time.Time
	names   []string // distinct phase names, in window order
}

func newPhaser(windows []reports.PhaseWindow, start time.Time) phaser {
	p := phaser{windows: windows, start: start}
	seen := map[string]bool{}
	for _, w := range windows {
		if !seen[w.Name] {
			seen[w.Name] = true
			p.names = append(p.names, w.Name)
		}
	}
	return p
}

// of returns the phase a time falls in, "" outside every window. Windows are half-open
// [start, end) so a span starting on a boundary belongs to the later phase.
func (p phaser) of(t time.Time) string {
	s := p.sec(t)
	for _, w := range p.windows {
		if s >= w.StartS && s < w.EndS {
			return w.Name
		}
	}
	return ""
}

func (p phaser) sec(t time.Time) float64 { return t.Sub(p.start).Seconds() }

// index is the spans cut up the ways the analyses need, built once.
type index struct {
	spans []Span
	phase []string // per span
	byID  map[spanKey]int
	ph    phaser
	wrap  []bool            // span wraps same-edge attempts (not itself a network call)
	edges map[string]series // edge → leaf client calls (and the entry edge)
	// edgeCalls is the same calls by edge over the whole run, phase or not (landing.go)
	edgeCalls map[string][]int
	svc       map[string]series // service → its server spans
	routes    map[string]map[string]series
	// callee-only components (stores) measured from their callers' client spans
	callee map[string]series
	// mech is the edge a span's resilience attributes and events refer to ("" when it has
	// none); mechSpans lists the spans per such edge.
	mech      []string
	mechSpans map[string][]int
	// server spans per service
	svcSpans map[string][]int
	// spans carrying cache.hit per service, one per lookup (a span whose parent in the same
	// service also carries it is left out)
	cacheSpans map[string][]int
	// late marks the spans of a request delivered after its caller had given up, and all
	// under it (lateDeliveries); lateServed counts such deliveries in the phases.
	late       []bool
	lateServed int
}

func (ix *index) parent(i int) (int, bool) {
	s := &ix.spans[i]
	if s.ParentSpanID.IsZero() {
		return 0, false
	}
	j, ok := ix.byID[spanKey{s.TraceID, s.ParentSpanID}]
	return j, ok
}

// parentHas says whether the span's parent, in the same service, carries key too, so the
// pair is one event recorded twice.
func (ix *index) parentHas(i int, key string) bool {
	j, ok := ix.parent(i)
	if !ok || ix.spans[j].Service != ix.spans[i].Service {
		return false
	}
	_, has := ix.spans[j].Attrs.Get(key)
	return has
}

func buildIndex(spans []Span, windows []reports.PhaseWindow, start time.Time) *index {
	return buildIndexOf(spans, windows, start, false)
}

// buildIndexOf builds the index; callsOnly builds only what the service map needs (the calls
// per edge: edges, edgeCalls), for a live view that rebuilds it every second.
func buildIndexOf(spans []Span, windows []reports.PhaseWindow, start time.Time, callsOnly bool) *index {
	ix := &index{
		spans:      spans,
		phase:      make([]string, len(spans)),
		byID:       make(map[spanKey]int, len(spans)),
		ph:         newPhaser(windows, start),
		wrap:       make([]bool, len(spans)),
		edges:      map[string]series{},
		edgeCalls:  map[string][]int{},
		svc:        map[string]series{},
		routes:     map[string]map[string]series{},
		callee:     map[string]series{},
		mech:       make([]string, len(spans)),
		mechSpans:  map[string][]int{},
		svcSpans:   map[string][]int{},
		cacheSpans: map[string][]int{},
	}
	for i := range spans {
		s := &spans[i]
		ix.byID[spanKey{s.TraceID, s.SpanID}] = i
		ix.phase[i] = ix.ph.of(s.Start)
	}
	// A client span with a same-service child on the same edge wraps attempts: the children
	// are the network calls, so only they count towards the edge.
	crossChild := map[int]string{} // parent span → service of a child in another service
	for i := range spans {
		s := &spans[i]
		j, ok := ix.parent(i)
		if !ok {
			continue
		}
		p := &spans[j]
		if p.Service == s.Service {
			e := s.Edge()
			// Only a network child makes its parent a wrapper: a pipeline's INTERNAL span about
			// the edge inside a client span (redis GET → resilience redirect->redis) is not an
			// attempt, and the client span stays the call.
			if e != "" && e == p.Edge() && (s.Kind == KindClient || s.Kind == KindProducer) {
				ix.wrap[j] = true
			}
		} else if s.Kind == KindServer || s.Kind == KindConsumer {
			crossChild[j] = s.Service
		}
	}
	ix.late = ix.lateDeliveries()
	for i := range spans {
		s := &spans[i]
		if !callsOnly {
			ix.mech[i] = s.mechEdge()
			if e := ix.mech[i]; e != "" {
				ix.mechSpans[e] = append(ix.mechSpans[e], i)
			}
			if _, ok := s.Attrs.Get(AttrCacheHit); ok && !ix.parentHas(i, AttrCacheHit) {
				ix.cacheSpans[s.Service] = append(ix.cacheSpans[s.Service], i)
			}
		}
		phase := ix.phase[i]
		switch s.Kind {
		case KindServer:
			if !callsOnly {
				ix.svcSpans[s.Service] = append(ix.svcSpans[s.Service], i)
			}
			edge := ""
			if s.Service == topology.Entry {
				if _, ok := ix.parent(i); !ok {
					edge = topology.EdgeName(topology.Client, topology.Entry)
				}
			}
			if j, ok := ix.parent(i); ok && spans[j].Service != s.Service && !reachesVia(&spans[j]) {
				edge = topology.EdgeName(spans[j].Service, s.Service)
			}
			if edge != "" {
				ix.edgeCalls[edge] = append(ix.edgeCalls[edge], i)
			}
			if phase == "" {
				continue
			}
			if ix.late[i] {
				if j, ok := ix.parent(i); ok && !ix.late[j] {
					ix.lateServed++
				}
				continue
			}
			if !callsOnly {
				addTo(ix.svc, s.Service, phase, s)
				if ix.routes[s.Service] == nil {
					ix.routes[s.Service] = map[string]series{}
				}
				addTo(ix.routes[s.Service], s.route(), phase, s)
			}
			if edge != "" {
				addTo(ix.edges, edge, phase, s)
			}
		case KindClient, KindProducer:
			if ix.wrap[i] {
				continue
			}
			from, to := s.Service, s.Attr(AttrPeerService)
			if f, t, ok := topology.SplitEdge(s.Attr(AttrEdge)); ok {
				from, to = f, t
			}
			if to == "" {
				to = crossChild[i]
			}
			if from == "" || to == "" {
				continue
			}
			ix.edgeCalls[topology.EdgeName(from, to)] = append(ix.edgeCalls[topology.EdgeName(from, to)], i)
			if phase == "" || ix.late[i] {
				continue
			}
			addTo(ix.edges, topology.EdgeName(from, to), phase, s)
			if !callsOnly {
				addTo(ix.callee, to, phase, s)
			}
		}
	}
	return ix
}

// LateSlack is how long after its caller's client span ended a server span must start to count
// as delivered late: well above the clock difference between processes on one machine.
const LateSlack = time.Millisecond

// lateDeliveries marks each server span that started after the client span that sent it had
// ended, and every span under it. Such a request was held in the network (a request-level
// latency fault) until its caller had given up on it (a timeout, a hedge that won): it runs
// for nobody, with its context already cancelled, so its own calls fail at once (slow-tail
// saw link's database calls "fail" 5 % of the time this way, 120 ms after the caller had its
// answer). It is no harm to the callee or anything below it, and the blast radius leaves it
// out. A callee that is slow or failing for requests still awaited starts them while its
// caller waits, and is judged as before.
func (ix *index) lateDeliveries() []bool {
	late := make([]bool, len(ix.spans))
	found := false
	for i := range ix.spans {
		late[i] = ix.lateServer(i)
		found = found || late[i]
	}
	if !found {
		return late // the common case: nothing to propagate
	}
	done := make([]bool, len(ix.spans))
	var mark func(i, depth int) bool
	mark = func(i, depth int) bool {
		if done[i] || late[i] || depth > 64 {
			return late[i]
		}
		if j, ok := ix.parent(i); ok {
			late[i] = mark(j, depth+1)
		}
		done[i] = true
		return late[i]
	}
	for i := range ix.spans {
		mark(i, 0)
	}
	return late
}

// lateServer says whether server span i started after the client span that sent it ended.
func (ix *index) lateServer(i int) bool {
	s := &ix.spans[i]
	if s.Kind != KindServer {
		return false
	}
	j, ok := ix.parent(i)
	if !ok {
		return false
	}
	return GaveUp(&ix.spans[j], s, s.Start)
}

// GaveUp says whether the caller of server — caller is server's parent span — had given up on
// it by t: caller is the client span in another service that sent the request, and it had
// ended more than LateSlack before t. Whatever server does from t on is for nobody: the blast
// radius leaves out a request delivered after that (t = its start), and the fallback check a
// call that failed after that (t = its end). The one notion of an abandoned request.
func GaveUp(caller, server *Span, t time.Time) bool {
	return caller != nil && caller.Service != server.Service && caller.Kind == KindClient && t.Sub(caller.End) > LateSlack
}

// route is a server span's route: http.route, else its name.
func (s *Span) route() string {
	if r := s.Attr(AttrHTTPRoute); r != "" {
		return r
	}
	return s.Name
}

// mechanismAttrs are the attributes a resilience pipeline writes on the span of the call it
// guards.
var mechanismAttrs = []string{AttrRetries, AttrBreakerState, AttrBreakerRejected, AttrBulkheadRejected,
	AttrTimeout, AttrFallback, AttrRateLimited,
	AttrLimiterRejected, AttrThrottled, AttrBudgetExceeded, AttrHedges}

func (s *Span) hasMechanism() bool {
	for _, k := range mechanismAttrs {
		if _, ok := s.Attrs.Get(k); ok {
			return true
		}
	}
	return len(s.Events) > 0
}

// mechEdge is the edge a span's resilience attributes and events are about, read from the
// span itself, never inferred: every call through a pipeline has its own span naming its edge
// (resilience.edge, which client spans carry too); a gateway route guard names its route
// (resilience.route) and guards client->gateway; an event names its edge (a breaker
// transition, a retry, a fallback answered outside the pipeline). A span with resilience
// attributes and none of these, as spans recorded before every protected call had its own
// span, is booked on "SERVICE->*": an edge no per-edge figure reads.
func (s *Span) mechEdge() string {
	if e := s.Edge(); e != "" {
		if s.hasMechanism() || s.Kind == KindClient || s.Kind == KindProducer {
			return e
		}
		return ""
	}
	if !s.hasMechanism() {
		return ""
	}
	if s.Attr(AttrRoute) != "" {
		return topology.EdgeName(topology.Client, topology.Entry)
	}
	for _, ev := range s.Events {
		if v, ok := ev.Attrs.Get(AttrEdge); ok && v != "" {
			return v
		}
	}
	return s.Service + "->*"
}

// reachesVia says whether a parent span is a client span naming its callee, in which case
// the cross-service link is already counted from that client span (or, when the callee is a
// broker such as nats, is an asynchronous hop that is not a synchronous edge).
func reachesVia(p *Span) bool {
	if p.Kind != KindClient && p.Kind != KindProducer {
		return false
	}
	if p.Attr(AttrPeerService) != "" {
		return true
	}
	_, _, ok := topology.SplitEdge(p.Attr(AttrEdge))
	return ok
}

func addTo(m map[string]series, key, phase string, s *Span) {
	sr := m[key]
	if sr == nil {
		sr = series{}
		m[key] = sr
	}
	sr.add(phase, s)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ServiceMap returns caller→callee edges learned from spans: CLIENT spans (Service →
// peer.service, or the edge in resilience.edge), cross-service parent/child links not already
// named by a client span, and the entry edge client->gateway from gateway SERVER spans without a
// parent among the spans. Calls, errors, p50 and p99 are given per phase (a span belongs to the
// phase its start falls in); spans outside every phase window are left out. A client span that
// only wraps same-edge attempts (retries) is not counted: its attempts are.
func ServiceMap(spans []Span, phases []reports.PhaseWindow, start time.Time) []reports.MapEdge {
	ix := buildIndex(spans, phases, start)
	return ix.serviceMap()
}

func (ix *index) serviceMap() []reports.MapEdge {
	out := make([]reports.MapEdge, 0, len(ix.edges))
	for _, e := range sortedKeys(ix.edges) {
		from, to, _ := topology.SplitEdge(e)
		out = append(out, reports.MapEdge{From: from, To: to, Phases: ix.edges[e].figures(ix.ph.names)})
	}
	return out
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }
