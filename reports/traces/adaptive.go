package traces

import "github.com/faultline/faultline/reports"

// adaptiveMechanisms counts what the adaptive policies did per edge (refusals by the limiter,
// the throttler and the budget, hedges sent) from the pipeline spans, and the attempts each
// edge made in the fault phase: distinct (call, attempt number) pairs of the CLIENT spans
// carrying resilience.attempt, so a transaction's several statements count once.
func (ix *index) adaptiveMechanisms(m *reports.Mechanisms) {
	m.LimiterRejections, m.Throttled, m.BudgetExceeded, m.Hedges = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	m.FaultAttempts = map[string]int{}
	type attemptKey struct {
		parent  int
		attempt int
	}
	seen := map[attemptKey]bool{}
	for e, idx := range ix.mechSpans {
		for _, i := range idx {
			s := &ix.spans[i]
			if s.Kind == KindInternal {
				for _, c := range []struct {
					key string
					m   map[string]int
				}{{AttrLimiterRejected, m.LimiterRejections}, {AttrThrottled, m.Throttled}, {AttrBudgetExceeded, m.BudgetExceeded}} {
					if s.Bool(c.key) {
						c.m[e]++
					}
				}
				if h, ok := s.Int(AttrHedges); ok && h > 0 {
					m.Hedges[e] += h
				}
			}
			a, ok := s.Int(AttrAttempt)
			if !ok || s.Edge() != e || (s.Kind != KindClient && s.Kind != KindProducer) || ix.phase[i] != reports.PhaseFault {
				continue
			}
			p, ok := ix.parent(i)
			if !ok {
				p = -1 - i // no parent span: the attempt stands alone
			}
			if k := (attemptKey{p, a}); !seen[k] {
				seen[k] = true
				m.FaultAttempts[e]++
			}
		}
	}
	for _, mp := range []map[string]int{m.LimiterRejections, m.Throttled, m.BudgetExceeded, m.Hedges, m.FaultAttempts} {
		for k, v := range mp {
			if v == 0 {
				delete(mp, k)
			}
		}
	}
}
