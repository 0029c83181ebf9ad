package conformance

import (
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/system/policy"
)

// edgeChecks judges every policy configured on edge e. An edge without any policy has no
// pipeline, hence nothing to check.
func (ix *index) edgeChecks(e string, p policy.EdgePolicy, transitions []reports.BreakerTransition) []reports.ConformanceCheck {
	if p.Timeout == 0 && p.Retry == nil && p.CircuitBreaker == nil && p.Bulkhead == nil && p.Fallback == "" &&
		p.AdaptiveLimiter == nil && p.AdaptiveThrottler == nil && p.Budget == nil && p.Hedge == nil {
		return nil
	}
	calls := ix.calls[e]
	var out []reports.ConformanceCheck
	if d := p.Timeout.D(); d > 0 {
		out = append(out, ix.timeout(calls, d).check(e, Timeout, fmt.Sprintf("%s per attempt (+%s tolerance)", d, timerTolerance(d))))
	}
	out = append(out, ix.attempts(e, calls, p.Retry, attemptRounds(p)))
	// Hedged attempts overlap the attempt before them: the gap between attempts is no backoff.
	if r := p.Retry; r != nil && r.MaxRetries > 0 && p.Hedge == nil {
		out = append(out, ix.backoff(calls, *r, p.Bulkhead).check(e, RetryBackoff, backoffText(*r, p.Bulkhead)))
	}
	if b := p.CircuitBreaker; b != nil {
		out = append(out, ix.breakerChecks(e, *b, p.Bulkhead, calls, transitions)...)
	}
	if b := p.Bulkhead; b != nil {
		as := make([]admission, 0, len(calls))
		for _, c := range calls {
			as = append(as, c.admission())
		}
		inFlight, wait := ix.bulkheadChecks(as, b.MaxConcurrent, b.MaxWait.D())
		out = append(out, inFlight.check(e, BulkheadInFlight, fmt.Sprintf("at most %d calls in flight", b.MaxConcurrent)),
			wait.check(e, BulkheadWait, fmt.Sprintf("a call waits at most %s for a permit (+%s tolerance)", b.MaxWait.D(), timerTolerance(b.MaxWait.D()))))
	}
	if p.Fallback != "" {
		out = append(out, ix.fallback(e, string(p.Fallback), calls))
	}
	if ix.inside[e]+len(ix.bypassed[e]) > 0 {
		out = append(out, ix.pipeline(e))
	}
	return append(out, ix.adaptiveEdgeChecks(e, p, calls)...)
}

// pipeline: every CLIENT span on the edge made while serving a request or processing a
// message (its parent a SERVER or CONSUMER span) is an attempt, a child of its call's pipeline span, or wraps the pipeline (as a
// Redis command's span does). One made beside the pipeline escaped every policy of the edge
// however conforming the pipeline's own span looks. Judged on edges with such spans only.
func (ix *index) pipeline(e string) reports.ConformanceCheck {
	var v verdict
	by := ix.bypassed[e]
	v.samples = ix.inside[e] + len(by)
	v.exercised = v.samples > 0
	for _, s := range by {
		v.violate("a call outside the pipeline (" + ix.ref(s.TraceID, s.Start) + ")")
	}
	v.observed = fmt.Sprintf("%d calls inside the pipeline, %d beside it", ix.inside[e], len(by))
	v.noData = "no call on the edge"
	return v.check(e, Pipeline, "every call on the edge made inside its pipeline")
}

// timeout: every attempt ends within the timeout plus the tolerance. An attempt is its own
// span when it has one; a single-attempt call without one (Redis, a DB pool traced per
// statement) is the pipeline span less the wait for a bulkhead permit.
func (ix *index) timeout(calls []*call, d time.Duration) verdict {
	var v verdict
	limit := d + timerTolerance(d)
	var longest time.Duration
	cut, paused, stalled := 0, 0, 0
	check := func(service string, start, end time.Time, dur time.Duration, frozen bool, ref string) {
		if frozen {
			paused++
			return
		}
		v.samples++
		longest = max(longest, dur)
		if dur >= d {
			v.exercised = true
		}
		if dur > limit {
			// An overshoot no larger than the machine's lateness at that moment (the
			// caller's thread waiting for a CPU after the bound, or the lab's own lateness)
			// is the machine's, not the policy's: a timeout not applied overshoots by the
			// fault's whole latency, in every attempt, stall or not.
			if st := ix.lateOver(service, start, start.Add(limit), end); dur-st <= limit {
				stalled++
				return
			}
			v.violate(fmt.Sprintf("attempt took %s (%s)", ms(dur), ref))
		}
	}
	for _, c := range calls {
		if c.timedOut {
			cut++
			v.exercised = true
		}
		if len(c.attempts) > 0 {
			for _, a := range c.attempts {
				check(c.span.Service, a.start, a.end, a.duration(), a.frozen || c.frozen, ix.ref(a.trace, a.start))
			}
			continue
		}
		if c.breakerRejected || c.bulkheadRejected || c.maxNum > 1 {
			continue // no attempt made, or several without spans of their own
		}
		check(c.span.Service, c.span.Start, c.span.End, c.span.Duration()-time.Duration(c.waitUs)*time.Microsecond, c.frozen, ix.ref(c.span.TraceID, c.span.Start))
	}
	v.observed = fmt.Sprintf("longest attempt %s of %d; %d calls cut by the timeout", ms(longest), v.samples, cut) + pausedText(paused) + stalledText(stalled)
	if v.samples == 0 {
		v.observed, v.noData = "-"+pausedText(paused), "no attempt on the edge"
	} else {
		v.noData = fmt.Sprintf("not exercised: no attempt reached %s", d)
	}
	return v
}

// attempts: no call makes more attempts than max_retries + 1 (one without a retry policy),
// each round times 1 + max_hedges on a hedged edge. Exercised once a call retried, or,
// without a retry, once an attempt failed (when a retry would have come).
func (ix *index) attempts(e string, calls []*call, r *policy.Retry, perRound int) reports.ConformanceCheck {
	limit, configured := 1, "1 attempt per call (no retry)"
	if r != nil && r.MaxRetries > 0 {
		limit = int(r.MaxRetries) + 1
		configured = fmt.Sprintf("at most %d attempts per call (max_retries %d)", limit, r.MaxRetries)
	}
	if perRound > 1 {
		limit *= perRound
		configured += fmt.Sprintf(", each round with up to %d hedges: at most %d", perRound-1, limit)
	}
	var v verdict
	most, retried, failed := 0, 0, 0
	for _, c := range calls {
		n := max(c.maxNum, len(c.attempts))
		if n == 0 && !c.breakerRejected && !c.bulkheadRejected {
			n = 1 // no retry attribute, no attempt spans: the one attempt the span stands for
		}
		if n == 0 {
			continue
		}
		v.samples++
		most = max(most, n)
		if n > 1 {
			retried++
		}
		if c.anyFailed() {
			failed++
		}
		if n > limit {
			v.violate(fmt.Sprintf("%d attempts (%s)", n, ix.ref(c.span.TraceID, c.span.Start)))
		}
	}
	v.exercised = retried > 0 || (limit == 1 && failed > 0)
	v.observed = fmt.Sprintf("most attempts in one call %d, over %d calls (%d retried, %d with a failed attempt)", most, v.samples, retried, failed)
	v.noData = "not exercised: no attempt failed"
	if v.samples == 0 {
		v.observed, v.noData = "-", "no call on the edge"
	}
	return v.check(e, RetryAttempts, configured)
}

// retryWindow is the accepted wait before retry k: the backoff of that retry ± jitter, less
// the clock slack below; above, also the bulkhead's max_wait (the next attempt queues for a
// permit within the gap) and the tolerance.
func retryWindow(r policy.Retry, bh *policy.Bulkhead, k int) (lo, hi time.Duration) {
	d := r.Delay(k)
	j := float64(r.Jitter)
	lo = time.Duration(float64(d)*(1-j)) - ClockSlack
	hi = time.Duration(float64(d) * (1 + j))
	if bh != nil {
		hi += bh.MaxWait.D()
	}
	return lo, hi + timerTolerance(hi) // a backoff ends on a timer
}

func backoffText(r policy.Retry, bh *policy.Bulkhead) string {
	var parts []string
	for k := 1; k <= int(r.MaxRetries) && k <= 3; k++ {
		lo, hi := retryWindow(r, bh, k)
		parts = append(parts, fmt.Sprintf("retry %d after %s–%s", k, ms(max(lo, 0)), ms(hi)))
	}
	if r.MaxRetries > 3 {
		parts = append(parts, "…")
	}
	return fmt.Sprintf("backoff %s, max %s, jitter %g: %s (max_wait and tolerance included)",
		r.Backoff.D(), r.MaxBackoff.D(), float64(r.Jitter), strings.Join(parts, ", "))
}

// backoff: the gap between the end of one attempt and the start of the next in one call.
func (ix *index) backoff(calls []*call, r policy.Retry, bh *policy.Bulkhead) verdict {
	var v verdict
	var shortest, longest time.Duration
	paused, stalled := 0, 0
	for _, c := range calls {
		for i := 1; i < len(c.attempts); i++ {
			prev, next := c.attempts[i-1], c.attempts[i]
			if next.num != prev.num+1 {
				continue
			}
			if c.frozen {
				paused++
				continue
			}
			gap := next.start.Sub(prev.end)
			lo, hi := retryWindow(r, bh, prev.num)
			if v.samples == 0 || gap < shortest {
				shortest = gap
			}
			longest = max(longest, gap)
			v.samples++
			switch {
			case gap < lo:
				v.violate(fmt.Sprintf("retry %d after %s, below %s (%s)", prev.num, ms(gap), ms(lo), ix.ref(c.span.TraceID, next.start)))
			case gap > hi:
				// A backoff ends on a timer: late by no more than the machine then, it is
				// the machine's (a retry with no backoff, or the wrong one, misses in every call).
				if st := ix.lateOver(c.span.Service, prev.end, prev.end.Add(hi), next.start); gap-st <= hi {
					stalled++
					continue
				}
				v.violate(fmt.Sprintf("retry %d after %s, above %s (%s)", prev.num, ms(gap), ms(hi), ix.ref(c.span.TraceID, next.start)))
			}
		}
	}
	v.exercised = v.samples > 0
	v.observed = fmt.Sprintf("%d waits between attempts, %s–%s", v.samples, ms(shortest), ms(longest)) + pausedText(paused) + stalledText(stalled)
	if v.samples == 0 {
		v.observed, v.noData = "-"+pausedText(paused), "not exercised: no call retried"
	}
	return v
}

// admission is what one call or request recorded about a bulkhead (an edge's, or a route's
// max_concurrent).
type admission struct {
	inFlight, waitUs     int
	hasInFlight, hasWait bool
	rejected             bool
	trace                traces.TraceID
	frozen               bool      // its service was paused meanwhile: the wait is not judged
	start                time.Time // when the wait began (the call's or request's start)
	service              string    // whose timer ends the wait
}

func (c *call) admission() admission {
	return admission{c.inFlight, c.waitUs, c.hasInFlight, c.hasWait, c.bulkheadRejected, c.span.TraceID, c.frozen, c.span.Start, c.span.Service}
}

// stalledText says how many times were late only by as much as the machine was then.
func stalledText(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d over the bound by no more than the machine's lateness then (the caller's thread waiting for a CPU, or the lab's own lateness), not judged", n)
}

func pausedText(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d measured across a pause of the caller, not judged", n)
}

// bulkheadChecks: the in-flight count each call recorded when admitted never exceeds
// maxConcurrent, and no call waited longer than maxWait for its permit. Both are exercised
// only once the bulkhead was full (a call saw maxConcurrent in flight, or was refused):
// before that nobody queued, and a "wait" is the scheduler's, not the bulkhead's. A waiter
// gives up on a timer, so a wait over the bound by no more than the lab's own lateness at
// that moment is the machine's, as for a timeout (a bulkhead that ignores max_wait overshoots
// by the whole queue, stall or not).
func (ix *index) bulkheadChecks(as []admission, maxConcurrent uint, maxWait time.Duration) (inFlight, wait verdict) {
	peak, refused, recorded, stalled := 0, 0, 0, 0
	var longest time.Duration
	waitLimit := maxWait + timerTolerance(maxWait) // a waiter gives up on a timer
	for _, a := range as {
		if a.rejected {
			refused++
		}
		if a.hasInFlight {
			recorded++
			peak = max(peak, a.inFlight)
			if a.inFlight > int(maxConcurrent) {
				inFlight.violate(fmt.Sprintf("%d in flight (trace %s)", a.inFlight, a.trace))
			}
		}
		if a.hasWait && !a.frozen {
			w := time.Duration(a.waitUs) * time.Microsecond
			longest = max(longest, w)
			if w > waitLimit {
				if st := ix.lateOver(a.service, a.start, a.start.Add(waitLimit), a.start.Add(w)); w-st <= waitLimit {
					stalled++
					continue
				}
				wait.violate(fmt.Sprintf("waited %s (trace %s)", ms(w), a.trace))
			}
		}
	}
	full := refused > 0 || peak >= int(maxConcurrent)
	inFlight.samples, wait.samples = recorded, recorded
	inFlight.exercised, wait.exercised = full, full
	inFlight.observed = fmt.Sprintf("peak %d in flight over %d admitted; %d refused as full", peak, recorded, refused)
	wait.observed = fmt.Sprintf("longest wait %s over %d admitted; %d refused as full", ms(longest), recorded, refused) + stalledText(stalled)
	why := fmt.Sprintf("not exercised: never full (peak %d of %d)", peak, maxConcurrent)
	if recorded == 0 {
		why = "nothing admitted recorded it (resilience.bulkhead.in_flight)"
		inFlight.observed, wait.observed = "-", "-"
	}
	inFlight.noData, wait.noData = why, why
	if !full && wait.violations > 0 {
		// Never full, so nothing queued: a long "wait" is the scheduler's, not a violation.
		wait.violations, wait.examples = 0, nil
	}
	return inFlight, wait
}

// fallback: the fallback answers only calls whose edge failed; a fallback inside the
// pipeline (fail_open) must also answer every such call. A stale-cache answer needs a stale
// entry, which the spans do not show, so only its first half is checked.
func (ix *index) fallback(e, kind string, calls []*call) reports.ConformanceCheck {
	var v verdict
	used, failedEdge, unanswered, unknown := 0, 0, 0, 0
	outside := kind == policy.FallbackStaleCache
	orphans := 0
	for _, c := range calls {
		answered := c.fallback != ""
		if outside {
			answered = ix.answeredOutside(e, c)
		}
		failed, known := c.edgeFailed()
		if !known {
			unknown++
			continue
		}
		if failed != answered && ix.callerGone(c.span) {
			// The request it served was abandoned before the call ended (its caller timed
			// out while this service was paused or queued): nobody waits for a fallback, and
			// a pipeline cancelled with its caller fails, and may fall back, after an attempt
			// that was answered (CI 16: the third attempt's 200 arrived 6 ms after the
			// gateway had given up).
			orphans++
			continue
		}
		v.samples++
		if failed {
			failedEdge++
		}
		switch {
		case answered:
			used++
			if !failed {
				v.violate("answered a call whose edge did not fail (" + ix.ref(c.span.TraceID, c.span.Start) + ")")
			}
		case failed && !outside:
			unanswered++
			v.violate("edge failed, no fallback (" + ix.ref(c.span.TraceID, c.span.Start) + ")")
		case failed:
			unanswered++
		}
	}
	configured := kind + " answers when and only when the edge failed"
	if outside {
		configured = kind + " answers only when the edge failed (whether a stale entry existed is not on the spans)"
	}
	v.exercised = failedEdge > 0 || used > 0
	v.observed = fmt.Sprintf("%d calls, %d with the edge failed; fallback answered %d, did not answer %d", v.samples, failedEdge, used, unanswered)
	if unknown > 0 {
		v.observed += fmt.Sprintf("; %d calls without attempt spans not judged", unknown)
	}
	v.noData = "not exercised: the edge never failed"
	if v.samples == 0 {
		v.observed, v.noData = "-", "no call on the edge"
	}
	if orphans > 0 {
		v.observed += fmt.Sprintf("; %d calls that ended after their caller had given up, not judged", orphans)
	}
	return v.check(e, Fallback, configured)
}
