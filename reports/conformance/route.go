package conformance

import (
	"fmt"
	"math"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/system/policy"
)

// routeChecks judges the gateway guard of one route, from the server spans carrying
// resilience.route.
func (ix *index) routeChecks(r string, p policy.RoutePolicy) []reports.ConformanceCheck {
	target := routeTargetPrefix + r
	reqs := ix.routes[r]
	var out []reports.ConformanceCheck
	if p.RateLimit > 0 {
		bound, text := rateBound(p)
		out = append(out, ix.rateLimit(reqs, p, bound).check(target, RouteRateLimit, text))
	}
	if p.MaxConcurrent > 0 {
		as := make([]admission, 0, len(reqs))
		for _, g := range reqs {
			if !g.rateLimited { // refused before the bulkhead
				as = append(as, admission{g.inFlight, g.waitUs, g.hasInFlight, g.hasWait, g.bulkheadRejected, g.span.TraceID, g.frozen, g.span.Start, g.span.Service})
			}
		}
		inFlight, wait := ix.bulkheadChecks(as, p.MaxConcurrent, p.MaxWait.D())
		out = append(out, inFlight.check(target, RouteConcurrency, fmt.Sprintf("at most %d requests in flight", p.MaxConcurrent)),
			wait.check(target, RouteWait, fmt.Sprintf("a request waits at most %s for a slot (+%s tolerance)", p.MaxWait.D(), timerTolerance(p.MaxWait.D()))))
	}
	return append(out, ix.adaptiveRouteCheck(r, p)...)
}

// rateBound is the most requests a conforming limiter admits in any one second: a bursty
// limiter hands out rate × window permits per fixed window, and a second overlaps
// 1s/window + 1 of them; a smooth one spaces permits 1/rate apart, so a second holds rate + 1.
func rateBound(p policy.RoutePolicy) (int, string) {
	rate := float64(p.RateLimit)
	if p.RateLimitKind == policy.RateSmooth {
		return int(p.RateLimit) + 1, fmt.Sprintf("at most %d/s, smooth: at most %d admitted in any second", p.RateLimit, p.RateLimit+1)
	}
	w := policy.RateWindow.Seconds()
	windows := math.Ceil(1/w) + 1
	bound := int(math.Floor(rate * w * windows))
	return bound, fmt.Sprintf("at most %d/s, bursty in %s windows: at most %d admitted in any second", p.RateLimit, policy.RateWindow, bound)
}

// rateLimit counts the requests the limiter let through (every request not answered 429,
// including those the bulkhead refused after) in every window of one second, shortened by
// twice the slack on request times. A request the guard tagged rate-limited but answered with
// another status is a violation of its own: the limiter counted it and let it through.
func (ix *index) rateLimit(reqs []*guarded, p policy.RoutePolicy, bound int) verdict {
	var v verdict
	window := time.Second - 2*Slack
	peak, refused, j := 0, 0, 0
	var admitted []*guarded
	for _, g := range reqs {
		if g.taggedNotRefused {
			status, _ := g.span.Int(traces.AttrStatusCode)
			v.violate(fmt.Sprintf("tagged rate-limited but answered %d, not 429: %s", status, ix.ref(g.span.TraceID, g.span.Start)))
		}
		if g.rateLimited {
			refused++
			continue
		}
		admitted = append(admitted, g)
	}
	peakAt := 0
	for i, g := range admitted {
		for admitted[j].span.Start.Add(window).Before(g.span.Start) || admitted[j].span.Start.Add(window).Equal(g.span.Start) {
			j++
		}
		if n := i - j + 1; n > peak {
			peak, peakAt = n, j
		}
	}
	v.samples = len(admitted)
	if peak > bound {
		first := admitted[peakAt].span
		v.violate(fmt.Sprintf("%d admitted within %s from %s", peak, window, ix.ref(first.TraceID, first.Start)))
	}
	v.exercised = refused > 0 || peak > int(p.RateLimit) || v.violations > 0
	v.observed = fmt.Sprintf("peak %d admitted in a second; %d of %d refused (429)", peak, refused, len(reqs))
	v.noData = fmt.Sprintf("not exercised: peak %d/s below the limit, none refused", peak)
	if len(reqs) == 0 {
		v.observed, v.noData = "-", "no request on the route"
	}
	return v
}
