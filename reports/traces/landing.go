package traces

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/internal/percentile"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

// A fault landed when the calls it should have touched show it: the faulted edge's calls (or
// the calls into the faulted component) started in its window are affected — failed, or slower
// than the fault makes them — clearly more often than the same calls outside every fault
// window. A fault that did not land tested nothing: a Toxiproxy toxic with toxicity < 1 never
// touches pooled keep-alive connections, a fault on an edge no stream uses, a process fault on
// a component nobody calls. Such a run can earn neither a pass nor a kill (reports/verdict).

// minStoppedCalls is how many calls the pre-fault rate must promise in a fault's window before
// their absence counts as the fault's doing.
const minStoppedCalls = 5

// Landing statuses, short.
const (
	Landed    = reports.LandingLanded
	NotLanded = reports.LandingNotLanded
	Unchecked = reports.LandingUnchecked
)

// landing judges one fault. Its window is [applied - apply time, healed], in seconds from the
// run's start; a fault never healed (the run ended or aborted) lasts to the run's end.
// windows are every fault's windows: "outside" means outside all of them.
func (ix *index) landing(f reports.FaultEvent, windows [][2]float64, client []call, end float64) reports.Landing {
	if f.Error != "" || f.AppliedAt < 0 {
		return reports.Landing{Status: Unchecked, Evidence: "never applied"}
	}
	if f.Fault == "cpu" {
		return reports.Landing{Status: Unchecked, Evidence: "a CPU share is enforced by the kernel or the lab's duty cycle; a component with CPU to spare shows nothing per call"}
	}
	from, to := faultWindow(f, end)
	target := f.Target
	_, _, isEdge := topology.SplitEdge(target)
	var calls []call
	switch {
	case target == topology.EdgeName(topology.Client, topology.Entry):
		calls = client
	case isEdge:
		calls = ix.spanCalls(ix.edgeCalls[target])
	default:
		for e, is := range ix.edgeCalls {
			if _, callee, ok := topology.SplitEdge(e); ok && callee == target {
				calls = append(calls, ix.spanCalls(is)...)
			}
		}
	}
	// A process fault also shows as the component going quiet: a crashed or paused process
	// records (almost) nothing, which covers a component nobody calls (a consumer).
	quiet := func() (bool, string) {
		if isEdge {
			return false, ""
		}
		n := ix.ownSpans(target, from, to)
		span, rest := max(to-from, 0.001), max(end-(to-from), 0.001)
		if n.out == 0 || float64(n.in)/span >= 0.25*float64(n.out)/rest {
			return false, ""
		}
		return true, fmt.Sprintf("%s recorded %d spans in its %.1f s window against %d in the other %.1f s", target, n.in, to-from, n.out, rest)
	}
	l := judgeCalls(f, target, calls, affectedBy(f, calls, windows), from, to, windows)
	if l.Status == NotLanded && isEdge {
		// A consumer's edge to NATS carries its deliveries, which no call span records: the
		// messages published while the fault lasted reach the consumer late (or after the
		// heal). Judged on the delivery delays (publish to the consumer's span).
		if d := ix.deliveries(target); len(d) > 0 {
			dl := judgeCalls(f, target+" (deliveries)", d, deliveryAffected(f, d, windows), from, to, windows)
			if dl.Status == Landed {
				return dl
			}
			l.Evidence += "; " + dl.Evidence
		}
	}
	if l.Status == NotLanded {
		if ok, why := quiet(); ok {
			return reports.Landing{Status: Landed, Evidence: why}
		}
	}
	return l
}

// judgeCalls is the landing rule on one set of calls: those started in the fault's window
// [from, to] against those started before every fault.
func judgeCalls(f reports.FaultEvent, target string, calls []call, aff affected, from, to float64, windows [][2]float64) reports.Landing {
	in, out := split(calls, from, to, windows)
	if len(in) == 0 {
		// The calls stopped while it lasted: a caller that stopped calling (its breaker open,
		// itself crashed) is the fault's doing — but only when the rate before promised
		// several calls in the window (one stray call before proves nothing).
		if pre := firstStart(windows); len(out) > 0 && pre > 0 && !math.IsInf(pre, 1) {
			if want := float64(len(out)) * (to - from) / pre; want >= minStoppedCalls {
				return reports.Landing{Status: Landed, Evidence: fmt.Sprintf("no call %s started in its window, where the rate before any fault (%d calls in %.1f s) promised %.0f: the calls stopped", target, len(out), pre, want)}
			}
		}
		return reports.Landing{Status: NotLanded, Evidence: fmt.Sprintf("no call %s in its window (%d before any fault, too few to expect one): nothing the fault could touch", target, len(out))}
	}
	if aff.noReference {
		return reports.Landing{Status: Unchecked, Evidence: fmt.Sprintf("no call %s before any fault to compare with", target)}
	}
	affIn, affOut := count(in, aff.test), count(out, aff.test)
	evidence := fmt.Sprintf("%d of %d calls %s in its window %s (before any fault: %d of %d)",
		affIn, len(in), target, aff.what, affOut, len(out))
	// The excess over what the same calls show outside must reach a quarter of what the fault
	// should do (its share of requests), and at least one call.
	base := 0.0
	if len(out) > 0 {
		base = float64(affOut) / float64(len(out))
	}
	excess := float64(affIn) - base*float64(len(in))
	share, n := expectedShare(f), float64(len(in))
	need := max(1, share*n/4)
	if _, exact := f.Params["share"]; exact && share < 1 {
		// A request-level fault picks its share exactly (seeded, per request): hold it to the
		// binomial's lower side (4 sigma and a point) rather than a quarter.
		need = max(need, (share-4*math.Sqrt(share*(1-share)/n)-0.01)*n)
	}
	if excess >= need {
		return reports.Landing{Status: Landed, Evidence: evidence}
	}
	return reports.Landing{Status: NotLanded, Evidence: fmt.Sprintf("%s; needed at least %.0f more than the rate before any fault", evidence, need)}
}

// deliveries are the messages a consumer received over edge (consumer->nats) as calls: each
// starts when its producer's publish span started and lasts until the consumer's span began
// (the delivery delay). nil for an edge that is not to NATS or a service that consumes nothing.
func (ix *index) deliveries(edge string) []call {
	consumer, callee, ok := topology.SplitEdge(edge)
	if !ok || topology.KindOf(callee) != topology.KindNATS {
		return nil
	}
	var out []call
	for i := range ix.spans {
		s := &ix.spans[i]
		if s.Kind != KindConsumer || s.Service != consumer {
			continue
		}
		j, ok := ix.parent(i)
		if !ok || ix.spans[j].Service == consumer {
			continue
		}
		out = append(out, call{at: ix.sec(j), dur: s.Start.Sub(ix.spans[j].Start), failed: s.Failed()})
	}
	return out
}

// deliveryAffected: a delivery shows a fault on its consumer's edge when it failed or came
// late: by at least the latency a latency fault adds, else later than twice the p99 delay of
// the deliveries before any fault (a partitioned or refused consumer gets the window's
// messages only after the heal).
func deliveryAffected(f reports.FaultEvent, d []call, windows [][2]float64) affected {
	if f.Fault == "latency" {
		if lat, jit := durParam(f, "latency"), durParam(f, "jitter"); lat > 0 {
			floor := max(lat-jit, 0) * 9 / 10
			return affected{what: "failed or delivered " + ms(floor) + " or more after the publish",
				test: func(c call) bool { return c.failed || c.dur >= floor }}
		}
	}
	var before []float64
	first := firstStart(windows)
	for _, c := range d {
		if c.at < first && !c.failed {
			before = append(before, float64(c.dur)/float64(time.Millisecond))
		}
	}
	if len(before) == 0 {
		return affected{test: func(c call) bool { return c.failed }, what: "failed", noReference: true}
	}
	slices.Sort(before)
	p99 := percentile.Of(before, 99)
	slow := time.Duration(max(2*p99, p99+5) * float64(time.Millisecond))
	return affected{what: "failed or delivered " + ms(slow) + " or more after the publish (twice the p99 before any fault)",
		test: func(c call) bool { return c.failed || c.dur >= slow }}
}

// faultWindow is when a fault acted, in seconds from the start: from the start of its apply to
// its heal (to end when it was never healed).
func faultWindow(f reports.FaultEvent, end float64) (from, to float64) {
	from, to = f.AppliedAt-f.ApplyS, f.HealedAt
	if to < from {
		to = end
	}
	return from, to
}

// call is one call as the landing check sees it: a span, or a request of the load generator
// (the client->gateway edge, whose network only the client sees).
type call struct {
	at     float64 // start, seconds from the run's start
	dur    time.Duration
	failed bool
}

func (ix *index) spanCalls(is []int) []call {
	out := make([]call, len(is))
	for k, i := range is {
		s := &ix.spans[i]
		out[k] = call{at: ix.sec(i), dur: s.Duration(), failed: s.Failed()}
	}
	return out
}

// clientCalls are the load generator's requests as calls on client->gateway.
func clientCalls(samples []reports.Sample) []call {
	out := make([]call, 0, len(samples))
	for _, s := range samples {
		if !s.Pending {
			out = append(out, call{at: (s.At + s.Lag).Seconds(), dur: s.Latency, failed: s.Failed()})
		}
	}
	return out
}

// affected says which calls show a fault.
type affected struct {
	test        func(call) bool
	what        string
	noReference bool // the test needs calls outside the windows, and there are none
}

func affectedBy(f reports.FaultEvent, calls []call, windows [][2]float64) affected {
	failed := affected{test: func(c call) bool { return c.failed }, what: "failed"}
	switch f.Fault {
	case "latency", "http_latency":
		lat, jit := durParam(f, "latency"), durParam(f, "jitter")
		if lat <= 0 {
			break
		}
		// The toxic delays every chunk by latency ± jitter: a call takes at least that, unless
		// its caller gave up first (a failure).
		floor := max(lat-jit, 0) * 9 / 10
		return affected{what: "failed or took " + ms(floor) + " or more",
			test: func(c call) bool { return c.failed || c.dur >= floor }}
	case "timeout", "partition", "reset_peer", "http_error", "http_reset", "limit_data":
		return failed
	}
	// Anything else (bandwidth, slow_close, crash, pause, restart): failed, or slower than
	// nearly all the same calls that succeeded before any fault.
	var outside []float64
	first := firstStart(windows)
	for _, c := range calls {
		if c.at < first && !c.failed {
			outside = append(outside, float64(c.dur)/float64(time.Millisecond))
		}
	}
	slices.Sort(outside)
	if len(outside) == 0 {
		a := failed
		a.noReference = f.Fault == "bandwidth" || f.Fault == "slow_close"
		return a
	}
	if f.Fault == "bandwidth" || f.Fault == "slow_close" {
		// A starved link adds a little to every call (a redirect is a few hundred bytes): the
		// calls move past what half the calls before took (the base rate, 50 %, is subtracted).
		p50 := time.Duration(percentile.Of(outside, 50) * float64(time.Millisecond))
		return affected{what: "failed or took over " + ms(p50) + " (the median before any fault)",
			test: func(c call) bool { return c.failed || c.dur > p50 }}
	}
	p99 := percentile.Of(outside, 99)
	slow := time.Duration(max(2*p99, p99+5) * float64(time.Millisecond))
	return affected{what: "failed or took " + ms(slow) + " or more (twice the p99 before any fault)",
		test: func(c call) bool { return c.failed || c.dur >= slow }}
}

// expectedShare is the share of calls the fault should touch: its share of requests times its
// toxicity; 0 when it filters by method or path (then one affected call is the evidence).
func expectedShare(f reports.FaultEvent) float64 {
	if f.Params["method"] != "" || f.Params["path"] != "" {
		return 0
	}
	share := 1.0
	for _, k := range []string{"share", "toxicity"} {
		if v, err := strconv.ParseFloat(strings.TrimSuffix(f.Params[k], "%"), 64); err == nil && f.Params[k] != "" {
			if strings.HasSuffix(f.Params[k], "%") {
				v /= 100
			}
			share *= v
		}
	}
	return share
}

func durParam(f reports.FaultEvent, k string) time.Duration {
	d, err := time.ParseDuration(f.Params[k])
	if err != nil {
		return 0
	}
	return d
}

func (ix *index) sec(i int) float64 { return ix.ph.sec(ix.spans[i].Start) }

// lastSec is when the last span ended, in seconds from the start.
func (ix *index) lastSec() float64 {
	last := 0.0
	for i := range ix.spans {
		last = max(last, ix.ph.sec(ix.spans[i].End))
	}
	return last
}

// split divides calls into those started in [from, to] and those started before every
// fault's window: the reference is the system before anything broke, never a recovery that
// may still carry a fault's aftermath.
func split(calls []call, from, to float64, windows [][2]float64) (in, before []call) {
	first := firstStart(windows)
	for _, c := range calls {
		switch {
		case c.at >= from && c.at <= to:
			in = append(in, c)
		case c.at < first:
			before = append(before, c)
		}
	}
	return in, before
}

// firstStart is when the first window starts (+Inf with none).
func firstStart(windows [][2]float64) float64 {
	first := math.Inf(1)
	for _, w := range windows {
		first = min(first, w[0])
	}
	return first
}

type spanCount struct{ in, out int }

// ownSpans counts the spans a component recorded itself (server, consumer and client spans
// of its service) started inside and outside [from, to].
func (ix *index) ownSpans(component string, from, to float64) spanCount {
	var n spanCount
	for i := range ix.spans {
		if ix.spans[i].Service != component {
			continue
		}
		if t := ix.sec(i); t >= from && t <= to {
			n.in++
		} else {
			n.out++
		}
	}
	return n
}

func count(cs []call, test func(call) bool) int {
	n := 0
	for _, c := range cs {
		if test(c) {
			n++
		}
	}
	return n
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// Landings judges, for each fault, whether it landed (see the comment at the top of
// landing.go). samples are the load generator's requests: the calls on client->gateway.
func (a *Analysis) Landings(faults []reports.FaultEvent, samples []reports.Sample) []reports.Landing {
	end := a.ix.lastSec()
	var windows [][2]float64
	for _, f := range faults {
		if f.Error == "" && f.AppliedAt >= 0 && !f.Background {
			from, to := faultWindow(f, end)
			windows = append(windows, [2]float64{from, to})
		}
	}
	client := clientCalls(samples)
	out := make([]reports.Landing, len(faults))
	for i, f := range faults {
		out[i] = a.ix.landing(f, windows, client, end)
	}
	return out
}
