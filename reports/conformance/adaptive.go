package conformance

import (
	"fmt"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/system/policy"
)

// Checks of the adaptive policies (a skip may name the group adaptive_limiter or hedge).
const (
	LimiterConcurrency = "adaptive_limiter.concurrency"
	HedgeCount         = "hedge.count"
	groupLimiter       = "adaptive_limiter"
	groupHedge         = "hedge"
)

// limiterAdmission is what one call or request recorded about an adaptive limiter.
type limiterAdmission struct {
	inFlight, limit       int
	hasInFlight, hasLimit bool
	rejected              bool
	trace                 traces.TraceID
}

func readLimiter(s *traces.Span) limiterAdmission {
	a := limiterAdmission{rejected: s.Bool(traces.AttrLimiterRejected), trace: s.TraceID}
	a.inFlight, a.hasInFlight = s.Int(traces.AttrLimiterInFlight)
	a.limit, a.hasLimit = s.Int(traces.AttrLimiterLimit)
	return a
}

// limiterCheck: an adaptive limiter never admits more calls than its max_limit, and the limit
// it reports stays within [min_limit, max_limit]. The limit it found at a given moment is not
// judged against in-flight counts: it may fall while admitted calls still hold their permits,
// so only the configured ceiling is a hard bound. Exercised once the limiter refused a call or
// a call was admitted at its current limit.
func limiterCheck(as []limiterAdmission, al *policy.AdaptiveLimiter) verdict {
	var v verdict
	minL, maxL, _ := al.Limits()
	peak, refused, atLimit := 0, 0, 0
	lowest, highest := -1, 0
	for _, a := range as {
		if a.rejected {
			refused++
		}
		if !a.hasInFlight {
			continue
		}
		v.samples++
		peak = max(peak, a.inFlight)
		if a.inFlight > int(maxL) {
			v.violate(fmt.Sprintf("%d in flight above max_limit %d (trace %s)", a.inFlight, maxL, a.trace))
		}
		if a.hasLimit {
			if lowest < 0 || a.limit < lowest {
				lowest = a.limit
			}
			highest = max(highest, a.limit)
			if a.limit < int(minL) || a.limit > int(maxL) {
				v.violate(fmt.Sprintf("limit %d outside [%d, %d] (trace %s)", a.limit, minL, maxL, a.trace))
			}
			if a.inFlight >= a.limit {
				atLimit++
			}
		}
	}
	v.exercised = refused > 0 || atLimit > 0
	v.observed = fmt.Sprintf("peak %d in flight over %d admitted; limit %d–%d; %d refused", peak, v.samples, max(lowest, 0), highest, refused)
	v.noData = fmt.Sprintf("not exercised: never at its limit (peak %d in flight)", peak)
	if v.samples == 0 {
		v.observed, v.noData = "-", "nothing admitted recorded it (resilience.limiter.in_flight)"
	}
	return v
}

func limiterText(al *policy.AdaptiveLimiter) string {
	minL, maxL, initial := al.Limits()
	s := fmt.Sprintf("at most max_limit %d in flight; limit within %d–%d (initial %d)", maxL, minL, maxL, initial)
	if al.Queueing != nil {
		s += fmt.Sprintf("; queueing up to %gx the limit for at most %s", al.Queueing.MaxRejectionFactor, al.MaxWaitTime.D())
	}
	return s
}

// hedgeCheck: no call sends more hedges than max_hedges in each of its rounds (the first try
// and each retry). Exercised once a call hedged.
func (ix *index) hedgeCheck(e string, calls []*call, h policy.Hedge, r *policy.Retry) reports.ConformanceCheck {
	rounds := 1
	if r != nil {
		rounds += int(r.MaxRetries)
	}
	limit := int(h.Hedges()) * rounds
	var v verdict
	hedged, most := 0, 0
	for _, c := range calls {
		n, ok := c.span.Int(traces.AttrHedges)
		if !ok {
			continue
		}
		v.samples++
		most = max(most, n)
		if n > 0 {
			hedged++
		}
		if n > limit {
			v.violate(fmt.Sprintf("%d hedges (%s)", n, ix.ref(c.span.TraceID, c.span.Start)))
		}
	}
	v.exercised = hedged > 0
	v.observed = fmt.Sprintf("%d of %d calls hedged, at most %d hedges in one call", hedged, v.samples, most)
	v.noData = fmt.Sprintf("not exercised: no call was slower than the hedge delay %s", h.Delay.D())
	if v.samples == 0 {
		v.observed, v.noData = "-", "no call recorded resilience.hedges"
	}
	return v.check(e, HedgeCount, fmt.Sprintf("at most %d hedges per call (max_hedges %d × %d rounds), each after %s", limit, h.Hedges(), rounds, h.Delay.D()))
}

// adaptiveEdgeChecks judges the edge's adaptive limiter and hedge.
func (ix *index) adaptiveEdgeChecks(e string, p policy.EdgePolicy, calls []*call) []reports.ConformanceCheck {
	var out []reports.ConformanceCheck
	if al := p.AdaptiveLimiter; al != nil {
		as := make([]limiterAdmission, 0, len(calls))
		for _, c := range calls {
			as = append(as, readLimiter(c.span))
		}
		out = append(out, limiterCheck(as, al).check(e, LimiterConcurrency, limiterText(al)))
	}
	if h := p.Hedge; h != nil {
		out = append(out, ix.hedgeCheck(e, calls, *h, p.Retry))
	}
	return out
}

// adaptiveRouteCheck judges a route guard's adaptive limiter.
func (ix *index) adaptiveRouteCheck(r string, p policy.RoutePolicy) []reports.ConformanceCheck {
	al := p.AdaptiveLimiter
	if al == nil {
		return nil
	}
	var as []limiterAdmission
	for _, g := range ix.routes[r] {
		if !g.rateLimited {
			as = append(as, readLimiter(g.span))
		}
	}
	return []reports.ConformanceCheck{limiterCheck(as, al).check(routeTargetPrefix+r, LimiterConcurrency, limiterText(al))}
}

// attemptRounds is how many attempts one round of a call may make: 1 + max_hedges with a
// hedge, else 1.
func attemptRounds(p policy.EdgePolicy) int {
	if p.Hedge != nil {
		return 1 + int(p.Hedge.Hedges())
	}
	return 1
}
