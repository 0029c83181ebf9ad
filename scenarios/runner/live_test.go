package runner

import (
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// The abort conditions and the progress line measure the last seconds exactly as an SLO does.
func TestLiveMeasure(t *testing.T) {
	start := time.Unix(1000, 0)
	l := newLive(start, 30)
	for i := range 10 {
		code := 302
		if i < 3 {
			code = 503
		}
		l.add(reports.Sample{Stream: "redirect", At: 2*time.Second + time.Duration(i)*50*time.Millisecond,
			Latency: time.Duration(i+1) * time.Millisecond, Code: code})
	}
	l.add(reports.Sample{Stream: "redirect", At: 3 * time.Second, Latency: time.Second, Code: 200}) // current second: left out
	now := start.Add(3500 * time.Millisecond)
	for _, c := range []struct {
		th   string
		want float64
	}{{"errors>50%", 0.3}, {"rate<5/s", 10}, {"goodput<5/s", 7}, {"p(99)>1s", 10}} {
		th, err := reports.ParseThreshold(c.th)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := l.measure(th, "redirect", now, 1); !ok || v != c.want {
			t.Errorf("%s: got %g ok=%v, want %g", c.th, v, ok, c.want)
		}
	}
	rate, _ := reports.ParseThreshold("rate<1/s")
	if v, ok := l.measure(rate, "create", now, 1); !ok || v != 0 {
		t.Errorf("no request: rate %g ok=%v, want 0 (measured)", v, ok)
	}
	p99, _ := reports.ParseThreshold("p(99)>1s")
	if _, ok := l.measure(p99, "create", now, 1); ok {
		t.Error("no request: a latency must have no value")
	}
}
