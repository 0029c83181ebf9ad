package console

import (
	"time"

	"github.com/faultline/faultline/reports/traces"
)

// policies is each edge's breaker state and bulkhead rejections as the spans the lab already
// receives tell them (docs/contracts.md: a guarded call's span carries
// resilience.breaker.state when it ends and resilience.bulkhead.rejected when the bulkhead
// refused it; a breaker's state change is a span event). Reading them from the spans costs
// the services nothing, where scraping every service's /metrics once a second did.
//
// Every span is read once, in any order: a state is kept only when it is newer than the one
// held (the services export in batches, not in time order).
type policies struct {
	breaker map[string]stampedState
	rejects map[string][]time.Time // bulkhead refusals per edge, kept for the window
	total   map[string]int         // bulkhead refusals per edge since the console started
}

type stampedState struct {
	state string
	at    time.Time
}

func newPolicies() *policies {
	return &policies{breaker: map[string]stampedState{}, rejects: map[string][]time.Time{}, total: map[string]int{}}
}

// add reads new spans.
func (p *policies) add(spans []traces.Span) {
	for i := range spans {
		s := &spans[i]
		if len(s.Attrs) == 0 && len(s.Events) == 0 {
			continue
		}
		edge := s.MechanismEdge()
		if edge == "" {
			continue
		}
		if st := s.Attr(traces.AttrBreakerState); st != "" {
			p.setState(edge, st, s.End)
		}
		for j := range s.Events {
			if tr, ok := traces.BreakerEvent(s, &s.Events[j]); ok {
				p.setState(tr.Edge, tr.To, s.Events[j].Time)
			}
		}
		if s.Bool(traces.AttrBulkheadRejected) {
			p.rejects[edge] = append(p.rejects[edge], s.Start)
			p.total[edge]++
		}
	}
}

func (p *policies) setState(edge, state string, at time.Time) {
	switch state {
	case traces.BreakerClosed, traces.BreakerOpen, traces.BreakerHalfOpen:
	default:
		return // not a state the page can show (a breaker-less "none")
	}
	if cur, ok := p.breaker[edge]; !ok || !at.Before(cur.at) {
		p.breaker[edge] = stampedState{state, at}
	}
}

// state is an edge's newest breaker state, "" when no span told one.
func (p *policies) state(edge string) string { return p.breaker[edge].state }

// rejected is an edge's bulkhead refusals since from, and since the console started.
func (p *policies) rejected(edge string, from time.Time) (window, total int) {
	for _, t := range p.rejects[edge] {
		if !t.Before(from) {
			window++
		}
	}
	return window, p.total[edge]
}

// trim forgets refusals before t (the totals keep them).
func (p *policies) trim(t time.Time) {
	for edge, ts := range p.rejects {
		keep := ts[:0]
		for _, x := range ts {
			if !x.Before(t) {
				keep = append(keep, x)
			}
		}
		p.rejects[edge] = keep
	}
}
