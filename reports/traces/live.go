package traces

import (
	"time"

	"github.com/faultline/faultline/reports"
)

// MechanismEdge is the edge a span's resilience attributes and events refer to (its
// resilience.edge; the entry edge for a route guard's server span), "" when it has none.
func (s *Span) MechanismEdge() string { return s.mechEdge() }

// LiveMap is ServiceMap plus, per edge, the start of the newest failed call in the phases
// (the calls ServiceMap counts), from one index: what a live view shows as "last error".
func LiveMap(spans []Span, phases []reports.PhaseWindow, start time.Time) ([]reports.MapEdge, map[string]time.Time) {
	ix := buildIndexOf(spans, phases, start, true)
	last := map[string]time.Time{}
	for e, calls := range ix.edgeCalls {
		for _, i := range calls {
			if s := &ix.spans[i]; ix.phase[i] != "" && s.Failed() && s.Start.After(last[e]) {
				last[e] = s.Start
			}
		}
	}
	return ix.serviceMap(), last
}
