package runner

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/reports"
)

// live keeps one-second buckets per stream of what the load saw, for the progress line and the
// abort conditions. It holds a bounded window, never the whole run.
type live struct {
	mu      sync.Mutex
	start   time.Time
	window  int // seconds kept
	streams map[string]map[int64][]reports.Sample
}

func newLive(start time.Time, window int) *live {
	return &live{start: start, window: window, streams: map[string]map[int64][]reports.Sample{}}
}

// add records one finished request, bucketed by the second it was scheduled in.
func (l *live) add(s reports.Sample) {
	sec := int64(s.At / time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
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

// samples returns a stream's requests scheduled in [now-secs, now); the current second is left
// out because its slow requests have not finished yet.
func (l *live) samples(stream string, now time.Time, secs int) []reports.Sample {
	cur := int64(now.Sub(l.start) / time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []reports.Sample
	for k := cur - int64(secs); k < cur; k++ {
		out = append(out, l.streams[stream][k]...)
	}
	return out
}

// measure evaluates one threshold's metric over the last secs, exactly as an SLO would.
// With no request there, rate and goodput are 0 and every other metric has no value.
func (l *live) measure(t reports.Threshold, stream string, now time.Time, secs int) (float64, bool) {
	v, ok := t.Measure(l.samples(stream, now, secs), float64(secs))
	if !ok && (t.Metric == "rate" || t.Metric == "goodput") {
		return 0, true
	}
	return v, ok
}

// The figures of the progress line, measured like the SLOs they stand for.
var (
	liveRate   = reports.Threshold{Metric: "rate"}
	liveP99    = reports.Threshold{Metric: "p", Percentile: 99}
	liveErrors = reports.Threshold{Metric: "errors"}
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

func (p *progress) print(now time.Time, elapsed, total time.Duration, phase string, streams []string, l *live, faults []string) {
	if !p.terminal && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1fs/%.0fs %-8s", elapsed.Seconds(), total.Seconds(), phase)
	for _, s := range streams {
		rate, _ := l.measure(liveRate, s, now, 2)
		p99, _ := l.measure(liveP99, s, now, 2)
		errs, _ := l.measure(liveErrors, s, now, 2)
		fmt.Fprintf(&b, " | %s %.0f/s p99 %s err %.1f%%", s, rate, fmtDur(time.Duration(p99*float64(time.Millisecond))), 100*errs)
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
