package runner

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// live keeps one-second buckets per stream of what the load saw, for the progress line and the
// abort conditions. It holds a bounded window, never the whole run.
type live struct {
	mu      sync.Mutex
	start   time.Time
	window  int // seconds kept
	streams map[string]map[int64]*bucket
}

type bucket struct {
	n, errs   int
	latencies []time.Duration
}

func newLive(start time.Time, window int) *live {
	return &live{start: start, window: window, streams: map[string]map[int64]*bucket{}}
}

// add records one finished request, bucketed by when it was scheduled.
func (l *live) add(stream string, scheduled time.Time, latency time.Duration, failed bool) {
	sec := int64(scheduled.Sub(l.start) / time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	bs := l.streams[stream]
	if bs == nil {
		bs = map[int64]*bucket{}
		l.streams[stream] = bs
	}
	b := bs[sec]
	if b == nil {
		b = &bucket{}
		bs[sec] = b
		for k := range bs {
			if k < sec-int64(l.window) {
				delete(bs, k)
			}
		}
	}
	b.n++
	if failed {
		b.errs++
	}
	b.latencies = append(b.latencies, latency)
}

// windowStats is a stream's figures over the last seconds.
type windowStats struct {
	n, errs int
	p99     time.Duration
	rate    float64
}

func (w windowStats) errorRate() float64 {
	if w.n == 0 {
		return 0
	}
	return float64(w.errs) / float64(w.n)
}

// stats summarises [now-secs, now) for a stream; the current second is left out because its
// slow requests have not finished yet.
func (l *live) stats(stream string, now time.Time, secs int) windowStats {
	cur := int64(now.Sub(l.start) / time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	var ws windowStats
	var lat []time.Duration
	for k := cur - int64(secs); k < cur; k++ {
		if b := l.streams[stream][k]; b != nil {
			ws.n += b.n
			ws.errs += b.errs
			lat = append(lat, b.latencies...)
		}
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		ws.p99 = lat[(len(lat)*99+99)/100-1]
	}
	ws.rate = float64(ws.n) / float64(secs)
	return ws
}

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
		st := l.stats(s, now, 2)
		fmt.Fprintf(&b, " | %s %.0f/s p99 %s err %.1f%%", s, st.rate, fmtDur(st.p99), 100*st.errorRate())
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
