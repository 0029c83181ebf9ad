package console

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/reports/traces"
)

// BenchmarkLiveUpdate is one refresh of the view, with a page open, over the real spans of a
// run (CONSOLE_SPANS: a run directory's spans.jsonl) moved to end now and spread over the
// map's window: what the lab pays per second while someone watches.
func BenchmarkLiveUpdate(b *testing.B) {
	path := os.Getenv("CONSOLE_SPANS")
	if path == "" {
		b.Skip("CONSOLE_SPANS names a spans.jsonl")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	spans, err := traces.ReadSpans(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	first, last := spans[0].Start, spans[0].Start
	for _, s := range spans {
		if s.Start.Before(first) {
			first = s.Start
		}
		if s.Start.After(last) {
			last = s.Start
		}
	}
	now := time.Now()
	// Squeeze the run into the last 15 s (the window and its margin), or CONSOLE_SQUEEZE
	// seconds for a higher span rate (the rate a faster load would send).
	squeeze := 15 * time.Second
	if v, err := strconv.ParseFloat(os.Getenv("CONSOLE_SQUEEZE"), 64); err == nil && v > 0 {
		squeeze = time.Duration(v * float64(time.Second))
	}
	scale := float64(squeeze) / float64(max(last.Sub(first), time.Second))
	b.Logf("%d spans over %s: %.0f spans/s", len(spans), squeeze, float64(len(spans))/squeeze.Seconds())
	for i := range spans {
		d := spans[i].End.Sub(spans[i].Start)
		spans[i].Start = now.Add(-squeeze).Add(time.Duration(float64(spans[i].Start.Sub(first)) * scale))
		spans[i].End = spans[i].Start.Add(d)
	}
	led := ledger.New(&fakeEnv{paused: map[string]bool{}}, ledger.Options{})
	l := newLive(Options{Ledger: led, Window: 5 * time.Second, Spans: func() []traces.Span { return spans }})
	b.ResetTimer()
	for range b.N {
		// As in a refresh: a second's new spans, the rest held (and indexed) from before.
		b.StopTimer()
		held := len(spans) - int(float64(len(spans))*float64(time.Second)/float64(squeeze)) // a second's spans are new
		l.spanSeen, l.calls = held, traces.NewLiveIndex()
		l.calls.Add(spans[:held])
		l.calls.Map("now", now, now)
		b.StartTimer()
		l.update(b.Context(), now)
	}
}
