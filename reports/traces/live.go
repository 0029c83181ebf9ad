package traces

import (
	"math"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

// MechanismEdge is the edge a span's resilience attributes and events refer to (its
// resilience.edge; the entry edge for a route guard's server span), "" when it has none.
func (s *Span) MechanismEdge() string { return s.mechEdge() }

// LiveIndex keeps ServiceMap's calls up to date as spans arrive, for a view that refreshes
// every second. Rebuilding the index over the whole window each second cost the console's
// server side work in proportion to the window's spans (8 s of them per refresh); here each
// trace is indexed when spans of it arrive — alone with all its spans held so far, by the
// same index ServiceMap uses, so a call counts exactly as it does there — and a refresh only
// sums the calls of the window. A trace whose spans come in several services' batches is
// indexed again with each batch (its calls replaced): once or twice in its life, not once a
// second.
type LiveIndex struct {
	traces map[TraceID]*liveTrace
	dirty  []*liveTrace
}

type liveTrace struct {
	spans  []Span
	calls  []liveCall
	newest time.Time // the latest start among its spans
	dirty  bool
}

// liveCall is one call as ServiceMap counts it.
type liveCall struct {
	edge   string
	start  time.Time
	durMs  float64
	failed bool
}

// NewLiveIndex returns an empty index.
func NewLiveIndex() *LiveIndex { return &LiveIndex{traces: map[TraceID]*liveTrace{}} }

// Add takes spans as they arrive, in any order.
func (x *LiveIndex) Add(spans []Span) {
	for i := range spans {
		s := spans[i]
		t := x.traces[s.TraceID]
		if t == nil {
			t = &liveTrace{}
			x.traces[s.TraceID] = t
		}
		t.spans = append(t.spans, s)
		if s.Start.After(t.newest) {
			t.newest = s.Start
		}
		if !t.dirty {
			t.dirty = true
			x.dirty = append(x.dirty, t)
		}
	}
}

// Forget drops the traces whose newest span started before t (their calls are out of every
// window the view will ask for, and a span of theirs arriving later starts the trace anew).
func (x *LiveIndex) Forget(t time.Time) {
	for id, tr := range x.traces {
		if tr.newest.Before(t) {
			tr.spans, tr.calls = nil, nil
			delete(x.traces, id)
		}
	}
	x.dirty = dropForgotten(x.dirty)
}

// Traces is how many traces the index holds.
func (x *LiveIndex) Traces() int { return len(x.traces) }

func dropForgotten(d []*liveTrace) []*liveTrace {
	out := d[:0]
	for _, t := range d {
		if t.spans != nil {
			out = append(out, t)
		}
	}
	clear(d[len(out):])
	return out
}

// allTime is a phase window that holds every span.
var allTime = []reports.PhaseWindow{{Name: reports.PhaseAll, StartS: math.Inf(-1), EndS: math.Inf(1)}}

// index indexes the traces that got spans since the last call, all in one index over their
// spans (parents and children are found within a trace), and replaces their calls.
func (x *LiveIndex) index() {
	if len(x.dirty) == 0 {
		return
	}
	n := 0
	for _, t := range x.dirty {
		n += len(t.spans)
	}
	batch := make([]Span, 0, n)
	for _, t := range x.dirty {
		batch = append(batch, t.spans...)
		t.calls, t.dirty = t.calls[:0], false
	}
	x.dirty = x.dirty[:0]
	ix := buildIndexOf(batch, allTime, time.Time{}, true)
	for e, calls := range ix.edgeCalls {
		for _, i := range calls {
			if ix.late[i] { // as ServiceMap: a request delivered after its caller gave up is no call
				continue
			}
			s := &batch[i]
			t := x.traces[s.TraceID]
			t.calls = append(t.calls, liveCall{edge: e, start: s.Start, durMs: s.durMs(), failed: s.Failed()})
		}
	}
}

// Map is ServiceMap's figures, as one phase named phase, for the calls that started in
// [from, to), and per edge the start of the newest failed call among them: what a live view
// shows as "last error".
func (x *LiveIndex) Map(phase string, from, to time.Time) ([]reports.MapEdge, map[string]time.Time) {
	x.index()
	edges := map[string]*acc{}
	last := map[string]time.Time{}
	for _, t := range x.traces {
		for _, c := range t.calls {
			if c.start.Before(from) || !c.start.Before(to) {
				continue
			}
			a := edges[c.edge]
			if a == nil {
				a = &acc{}
				edges[c.edge] = a
			}
			a.addCall(c.failed, c.durMs)
			if c.failed && c.start.After(last[c.edge]) {
				last[c.edge] = c.start
			}
		}
	}
	out := make([]reports.MapEdge, 0, len(edges))
	for _, e := range sortedKeys(edges) {
		f, t, _ := topology.SplitEdge(e)
		out = append(out, reports.MapEdge{From: f, To: t, Phases: []reports.EdgeFigure{edges[e].figure(phase)}})
	}
	return out, last
}
