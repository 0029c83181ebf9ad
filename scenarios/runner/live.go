package runner

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios/load"
)

// live keeps one-second buckets per stream of what the load saw, for the progress line and the
// abort conditions, and every request still in flight, so a hang shows while it lasts (results
// arrive only on completion). It holds a bounded window, never the whole run.
type live struct {
	mu      sync.Mutex
	start   time.Time
	window  int // seconds kept
	streams map[string]map[int64][]reports.Sample
	pending map[string]map[uint64]load.Sent // sent, not answered yet
	// bound is the age past which a request still in flight counts as failed (see hangBounds).
	bound func(stream string, at time.Duration) time.Duration
}

func newLive(start time.Time, window int, bound func(stream string, at time.Duration) time.Duration) *live {
	return &live{start: start, window: window, bound: bound,
		streams: map[string]map[int64][]reports.Sample{}, pending: map[string]map[uint64]load.Sent{}}
}

// sent records a request handed to the transport; add of the same stream and seq retires it.
func (l *live) sent(s load.Sent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ps := l.pending[s.Stream]
	if ps == nil {
		ps = map[uint64]load.Sent{}
		l.pending[s.Stream] = ps
	}
	ps[s.Seq] = s
}

// add records one finished request (seq as numbered by the load), bucketed by the second it
// was scheduled in.
func (l *live) add(seq uint64, s reports.Sample) {
	sec := int64(s.At / time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pending[s.Stream], seq)
	bs := l.streams[s.Stream]
	if bs == nil {
		bs = map[int64][]reports.Sample{}
		l.streams[s.Stream] = bs
	}
	if _, ok := bs[sec]; !ok {
		for k := range bs {
			if k < sec-int64(l.window) {
				delete(bs, k)
			}
		}
	}
	bs[sec] = append(bs[sec], s)
}

// inFlight is how many requests of a stream are sent and not answered.
func (l *live) inFlight(stream string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending[stream])
}

// errPastBound is the error of a request still in flight past its bound.
const errPastBound = "no answer yet, past its latency bound"

// samples returns a stream's requests scheduled in [now-secs, now), answered or not, and with
// older, every older request still in flight. The current second is left out: most of it is
// yet to be sent. A request in flight counts at its age so far, and as failed once that age is
// past its bound; an older one is exactly how a hang shows.
func (l *live) samples(stream string, now time.Time, secs int, older bool) []reports.Sample {
	cur := int64(now.Sub(l.start) / time.Second)
	from := cur - int64(secs)
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []reports.Sample
	for k := from; k < cur; k++ {
		out = append(out, l.streams[stream][k]...)
	}
	for _, p := range l.pending[stream] {
		at := p.Scheduled.Sub(l.start)
		if sec := int64(at / time.Second); sec >= cur || (sec < from && !older) {
			continue
		}
		s := reports.Sample{Stream: stream, At: at, Lag: p.At.Sub(p.Scheduled), Latency: max(now.Sub(p.At), 0), Pending: true}
		if s.Latency > l.bound(stream, at) {
			s.Err = errPastBound
		}
		out = append(out, s)
	}
	return out
}

// measure evaluates one threshold's metric over the last secs, exactly as an SLO would, with
// the requests in flight counted as samples() says. rate and goodput count what was scheduled
// in the window (goodput only what succeeded); the other metrics also see the older requests
// still in flight. With no request there, rate and goodput are 0 and every other metric has
// no value.
func (l *live) measure(t verdict.Threshold, stream string, now time.Time, secs int) (float64, bool) {
	older := t.Metric != "rate" && t.Metric != "goodput"
	v, ok := t.Measure(l.samples(stream, now, secs, older), float64(secs))
	if !ok && (t.Metric == "rate" || t.Metric == "goodput") {
		return 0, true
	}
	return v, ok
}

// hangBounds returns, for a request of a stream scheduled at an offset, the longest it may stay
// unanswered before the live window counts it as failed: the tightest latency the scenario's
// SLOs allow that stream in that phase (the same thresholds user impact reads), or, with none,
// the load client's timeout, when it fails for certain. The gateway's route timeouts would be
// a closer bound, but they live in the system's profile, which the lab does not read.
func hangBounds(slos []verdict.SLO, phases []reports.PhaseWindow, timeout time.Duration) func(stream string, at time.Duration) time.Duration {
	bounds := map[[2]string]time.Duration{} // stream, phase
	for _, slo := range slos {
		for _, w := range phases {
			if !containsPhase(slo.Phases, w.Name) {
				continue
			}
			key := [2]string{slo.Load, w.Name}
			for _, t := range slo.Thresholds {
				if t.Unit != reports.UnitMs || (t.Op != "<" && t.Op != "<=") {
					continue
				}
				d := time.Duration(t.Value * float64(time.Millisecond))
				if t.Op == "<" {
					d-- // p(99)<50ms is broken at 50 ms exactly
				}
				if cur, ok := bounds[key]; !ok || d < cur {
					bounds[key] = d
				}
			}
		}
	}
	return func(stream string, at time.Duration) time.Duration {
		if d, ok := bounds[[2]string{stream, reports.PhaseAt(phases, at)}]; ok {
			return min(d, timeout)
		}
		return timeout
	}
}

// The figures of the progress line, measured like the SLOs they stand for.
var (
	liveRate   = verdict.Threshold{Metric: "rate"}
	liveP99    = verdict.Threshold{Metric: "p", Percentile: 99}
	liveErrors = verdict.Threshold{Metric: "errors"}
)

// progress prints where the run is: one rewritten line on a terminal, a plain line every few
// seconds elsewhere (CI logs).
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration
	last     time.Time
	width    int
}

// print shows the run at elapsed. The last tick lands at or just past the end, where no phase
// is open: it shows the end and the last phase.
func (p *progress) print(now time.Time, elapsed, total time.Duration, phases []reports.PhaseWindow, streams []string, l *live, faults []string) {
	if !p.terminal && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	elapsed = min(elapsed, total)
	phase := reports.PhaseAt(phases, min(elapsed, total-time.Nanosecond))
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1fs/%.0fs %-8s", elapsed.Seconds(), total.Seconds(), phase)
	for _, s := range streams {
		rate, _ := l.measure(liveRate, s, now, 2)
		p99, _ := l.measure(liveP99, s, now, 2)
		errs, _ := l.measure(liveErrors, s, now, 2)
		fmt.Fprintf(&b, " | %s %.0f/s p99 %s err %.1f%% inflight %d", s, rate, fmtDur(time.Duration(p99*float64(time.Millisecond))), 100*errs, l.inFlight(s))
	}
	if len(faults) > 0 {
		fmt.Fprintf(&b, " | faults: %s", strings.Join(faults, ", "))
	}
	line := b.String()
	if p.terminal {
		pad := ""
		if n := p.width - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		p.width = len(line)
		fmt.Fprintf(p.w, "\r%s%s", line, pad)
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) done() {
	if p.terminal && p.width > 0 {
		fmt.Fprintln(p.w)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
