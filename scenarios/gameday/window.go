package gameday

import (
	"sort"
	"time"

	"github.com/faultline/faultline/internal/percentile"
	"github.com/faultline/faultline/reports"
)

// Bucket is one second of one stream, by when its requests were scheduled.
type Bucket struct {
	T         int64   `json:"t"` // seconds from the session start
	Requests  int     `json:"requests"`
	ErrorRate float64 `json:"error_rate"` // 0..1
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
}

// window keeps the last secs seconds of latencies per stream, for the live view.
type window struct {
	secs int64
	data map[string]map[int64]*sec
}

type sec struct {
	lat    []float64
	errors int
	final  *Bucket // computed once no more results can arrive (older than the load timeout)
}

// settle is how many seconds late a result may still arrive (the load's request timeout).
const settle = 6

func newWindow(secs int64) *window { return &window{secs: secs, data: map[string]map[int64]*sec{}} }

func (w *window) add(s reports.Sample) {
	t := int64(s.At / time.Second)
	m := w.data[s.Stream]
	if m == nil {
		m = map[int64]*sec{}
		w.data[s.Stream] = m
	}
	b := m[t]
	if b == nil {
		for k := range m {
			if k < t-w.secs {
				delete(m, k)
			}
		}
		b = &sec{}
		m[t] = b
	}
	b.lat = append(b.lat, float64(s.Latency)/float64(time.Millisecond))
	if s.Failed() {
		b.errors++
	}
}

// series returns one bucket per second in [from, to), empty seconds included (a stream that
// stopped sending shows as zero, not as a gap the eye would bridge).
func (w *window) series(stream string, from, to int64) []Bucket {
	from = max(from, 0)
	out := make([]Bucket, 0, max(to-from, 0))
	m := w.data[stream]
	for t := from; t < to; t++ {
		b := Bucket{T: t}
		s := m[t]
		if s != nil && s.final != nil {
			out = append(out, *s.final)
			continue
		}
		if s != nil && len(s.lat) > 0 {
			lat := append([]float64(nil), s.lat...)
			sort.Float64s(lat)
			b.Requests = len(lat)
			b.ErrorRate = float64(s.errors) / float64(len(lat))
			b.P50Ms, b.P99Ms = percentile.Of(lat, 50), percentile.Of(lat, 99)
		}
		if s != nil && t < to-settle {
			s.final = &b
		}
		out = append(out, b)
	}
	return out
}
