package traces

import (
	"time"

	"github.com/faultline/faultline/reports"
)

// Analysis is the spans of one run indexed once, for callers that want the service map, the
// blast radius and the mechanisms together (each of the package functions indexes anew).
type Analysis struct{ ix *index }

// Analyze indexes spans against the run's phases (seconds from start).
func Analyze(spans []Span, phases []reports.PhaseWindow, start time.Time) *Analysis {
	return &Analysis{ix: buildIndex(spans, phases, start)}
}

// ServiceMap is ServiceMap on the indexed spans.
func (a *Analysis) ServiceMap() []reports.MapEdge { return a.ix.serviceMap() }

// BlastRadius is BlastRadius on the indexed spans.
func (a *Analysis) BlastRadius(origins []string, th reports.BlastThresholds, userImpact map[string]float64) *reports.BlastRadius {
	return a.ix.blastRadius(origins, WithDefaults(th), userImpact)
}

// Mechanisms is Mechanisms on the indexed spans.
func (a *Analysis) Mechanisms(faults []reports.FaultEvent, transitions []reports.BreakerTransition) *reports.Mechanisms {
	return a.ix.mechanisms(faults, transitions)
}
