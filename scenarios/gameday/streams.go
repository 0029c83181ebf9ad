package gameday

import (
	"sync"
	"time"

	"github.com/faultline/faultline/reports"
)

// Streams is load the console shows but does not drive (a scenario run's, faultline run
// --console): its streams as declared and their figures per second from its samples, as a
// Session's View gives them.
type Streams struct {
	mu      sync.Mutex
	start   time.Time
	meta    []StreamView // without series
	slos    []SLOSpec
	live    *window
	stopped bool
}

// NewStreams returns a view of streams whose offsets count from start.
func NewStreams(start time.Time, streams []StreamView, slos []SLOSpec) *Streams {
	return &Streams{start: start, meta: streams, slos: slos, live: newWindow(300)}
}

// Add counts one answered request.
func (s *Streams) Add(smp reports.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live.add(smp)
}

// Stop marks every stream as no longer sending.
func (s *Streams) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
}

// View returns every stream with its last secs seconds of figures, at now.
func (s *Streams) View(now time.Time, secs int) ([]StreamView, []SLOSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nowS := int64(now.Sub(s.start) / time.Second)
	out := make([]StreamView, 0, len(s.meta))
	for _, m := range s.meta {
		m.Running = !s.stopped
		m.Series = s.live.series(m.Name, nowS-int64(secs), nowS)
		out = append(out, m)
	}
	return out, append([]SLOSpec(nil), s.slos...)
}
