package runner

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/load"
)

func fixedBound(d time.Duration) func(string, time.Duration) time.Duration {
	return func(string, time.Duration) time.Duration { return d }
}

// The abort conditions and the progress line measure the last seconds exactly as an SLO does.
func TestLiveMeasure(t *testing.T) {
	start := time.Unix(1000, 0)
	l := newLive(start, 30, fixedBound(5*time.Second))
	for i := range 10 {
		code := 302
		if i < 3 {
			code = 503
		}
		l.add(uint64(i), reports.Sample{Stream: "redirect", At: 2*time.Second + time.Duration(i)*50*time.Millisecond,
			Latency: time.Duration(i+1) * time.Millisecond, Code: code})
	}
	l.add(10, reports.Sample{Stream: "redirect", At: 3 * time.Second, Latency: time.Second, Code: 200}) // current second: left out
	now := start.Add(3500 * time.Millisecond)
	for _, c := range []struct {
		th   string
		want float64
	}{{"errors>50%", 0.3}, {"rate<5/s", 10}, {"goodput<5/s", 7}, {"p(99)>1s", 10}} {
		th, err := verdict.ParseThreshold(c.th)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := l.measure(th, "redirect", now, 1); !ok || v != c.want {
			t.Errorf("%s: got %g ok=%v, want %g", c.th, v, ok, c.want)
		}
	}
	rate, _ := verdict.ParseThreshold("rate<1/s")
	if v, ok := l.measure(rate, "create", now, 1); !ok || v != 0 {
		t.Errorf("no request: rate %g ok=%v, want 0 (measured)", v, ok)
	}
	p99, _ := verdict.ParseThreshold("p(99)>1s")
	if _, ok := l.measure(p99, "create", now, 1); ok {
		t.Error("no request: a latency must have no value")
	}
}

// A request in flight counts in the window at its age, as failed once past its bound; one sent
// before the window still counts while it hangs; an answered one is no longer in flight.
func TestLiveCountsRequestsInFlight(t *testing.T) {
	start := time.Unix(1000, 0)
	l := newLive(start, 30, fixedBound(750*time.Millisecond))
	send := func(seq uint64, at time.Duration) {
		l.sent(load.Sent{Stream: "redirect", Seq: seq, Scheduled: start.Add(at), At: start.Add(at + time.Millisecond)})
	}
	for i, at := range []time.Duration{2000, 2100, 2200, 2300} { // answered in 2 ms
		send(uint64(i), at*time.Millisecond)
		l.add(uint64(i), reports.Sample{Stream: "redirect", At: at * time.Millisecond, Latency: 2 * time.Millisecond, Code: 302})
	}
	for i, at := range []time.Duration{2500, 2600, 2700, 2800, 500, 3200} { // no answer yet
		send(uint64(10+i), at*time.Millisecond)
	}
	now := start.Add(3501 * time.Millisecond)
	// In the window: 4 answered, 4 in flight aged 1.0, 0.9, 0.8 (past 750 ms) and 0.7 s; before
	// it: one aged 3 s; the current second (3.2 s) is left out.
	for _, c := range []struct {
		th   string
		want float64
	}{{"errors>50%", 4.0 / 9}, {"rate<5/s", 8}, {"goodput<5/s", 4}, {"p(99)>2s", 3000}, {"max_ok>2s", 700}} {
		th, err := verdict.ParseThreshold(c.th)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := l.measure(th, "redirect", now, 1); !ok || v != c.want {
			t.Errorf("%s: got %g ok=%v, want %g", c.th, v, ok, c.want)
		}
	}
	if n := l.inFlight("redirect"); n != 6 {
		t.Errorf("in flight: %d, want 6", n)
	}
}

// A total blackhole: nothing is answered after it lands, hung requests time out at the client's
// 5 s. The abort must fire within its for + the 1 s window + 1 s of the hang breaking the
// threshold (at once for errors, past the bound of 200 ms; after 2 s for p(99)>2s). Before the
// live window saw requests in flight, it never fired: the window held no answer at all, and
// the timeouts were filed under seconds long gone.
func TestAbortSeesABlackhole(t *testing.T) {
	start := time.Unix(1000, 0)
	const (
		every   = 20 * time.Millisecond // 50/s
		hole    = 4300 * time.Millisecond
		timeout = 5 * time.Second
		forD    = 2 * time.Second
	)
	for _, c := range []struct {
		cond  string
		holds time.Duration // how long the hang takes to break the threshold
	}{{"errors>50%", 0}, {"p(99)>2s", 2 * time.Second}} {
		cond := c.cond
		t.Run(cond, func(t *testing.T) {
			l := newLive(start, 30, fixedBound(200*time.Millisecond))
			th, err := verdict.ParseThreshold(cond)
			if err != nil {
				t.Fatal(err)
			}
			r := &run{start: start, sc: &scenarios.Scenario{AbortWhen: []scenarios.Abort{
				{Raw: "redirect " + cond + " for 2s", Stream: "redirect", Threshold: th, For: scenarios.Duration(forD)}}}}
			since := map[int]int64{}
			var (
				seq  uint64
				next time.Duration
				hung []uint64
				when = map[uint64]time.Duration{}
			)
			for tick := time.Second + 3*time.Millisecond; tick < 20*time.Second; tick += time.Second {
				for ; next < tick; next += every {
					l.sent(load.Sent{Stream: "redirect", Seq: seq, Scheduled: start.Add(next), At: start.Add(next)})
					if next < hole {
						l.add(seq, reports.Sample{Stream: "redirect", At: next, Latency: 2 * time.Millisecond, Code: 302})
					} else {
						hung, when[seq] = append(hung, seq), next
					}
					seq++
				}
				for len(hung) > 0 && when[hung[0]]+timeout <= tick {
					l.add(hung[0], reports.Sample{Stream: "redirect", At: when[hung[0]], Latency: timeout, Err: "timeout"})
					hung = hung[1:]
				}
				if a := r.checkAbort(start.Add(tick), l, since); a != nil {
					late := time.Duration(a.AtS*float64(time.Second)) - hole
					t.Logf("fired %s after the blackhole landed", late)
					if want := c.holds + forD + 2*time.Second; late > want {
						t.Errorf("fired %s after the blackhole landed, want <= %s", late, want)
					}
					return
				}
			}
			t.Fatal("the abort never fired during a total blackhole")
		})
	}
}

// "for 2s" is two whole seconds of load that broke the threshold, however the ticks jitter: a
// tick a few µs earlier in its second than the one before must not cost another second.
func TestAbortCountsWholeSeconds(t *testing.T) {
	start := time.Unix(1000, 0)
	l := newLive(start, 30, fixedBound(time.Second))
	for i := range 400 { // every request fails from 4 s on
		at := 4*time.Second + time.Duration(i)*10*time.Millisecond
		l.add(uint64(i), reports.Sample{Stream: "redirect", At: at, Latency: time.Millisecond, Code: 503})
	}
	th, _ := verdict.ParseThreshold("errors>50%")
	r := &run{start: start, sc: &scenarios.Scenario{AbortWhen: []scenarios.Abort{
		{Raw: "redirect errors>50% for 2s", Stream: "redirect", Threshold: th, For: scenarios.Duration(2 * time.Second)}}}}
	since := map[int]int64{}
	for _, tick := range []time.Duration{5000900 * time.Microsecond, 6000100 * time.Microsecond} {
		if a := r.checkAbort(start.Add(tick), l, since); a != nil {
			if tick < 6*time.Second {
				t.Fatalf("fired at %s after one second of errors", tick)
			}
			return
		}
	}
	t.Fatal("two whole seconds of errors (4-6 s) did not fire `for 2s` at the tick of 6 s")
}

// The bound of a request in flight is the tightest latency the stream's SLOs allow in the phase
// it was scheduled in, else the client's timeout.
func TestHangBounds(t *testing.T) {
	slo := func(stream string, phases []string, ths ...string) verdict.SLO {
		s := verdict.SLO{Load: stream, Phases: phases}
		for _, raw := range ths {
			th, err := verdict.ParseThreshold(raw)
			if err != nil {
				t.Fatal(err)
			}
			s.Thresholds = append(s.Thresholds, th)
		}
		return s
	}
	slos := []verdict.SLO{
		slo("redirect", []string{"baseline", "recovery"}, "p(99)<200ms", "errors<1%"),
		slo("redirect", []string{"fault"}, "p(99)<1s", "avg<=300ms", "rate>10/s"),
		slo("redirect", []string{"all"}, "p(99)<2s"),
		slo("create", []string{"fault"}, "p(99)<30s"),
	}
	phases := []reports.PhaseWindow{{Name: "baseline", StartS: 0, EndS: 8}, {Name: "fault", StartS: 8, EndS: 16}, {Name: "recovery", StartS: 16, EndS: 24}}
	bound := hangBounds(slos, phases, 5*time.Second)
	for _, c := range []struct {
		stream string
		at     time.Duration
		want   time.Duration
	}{
		{"redirect", time.Second, 200*time.Millisecond - 1},
		{"redirect", 9 * time.Second, 300 * time.Millisecond},
		{"redirect", 20 * time.Second, 200*time.Millisecond - 1},
		{"create", time.Second, 5 * time.Second},        // no SLO in baseline
		{"create", 9 * time.Second, 5 * time.Second},    // looser than the client's timeout
		{"stats", 9 * time.Second, 5 * time.Second},     // no SLO at all
		{"redirect", 30 * time.Second, 5 * time.Second}, // past the end: no phase
	} {
		if got := bound(c.stream, c.at); got != c.want {
			t.Errorf("%s at %s: bound %s, want %s", c.stream, c.at, got, c.want)
		}
	}
}

// The progress line shows requests in flight, and its last line, at or just past the end,
// names the last phase rather than none.
func TestProgressLine(t *testing.T) {
	start := time.Unix(1000, 0)
	l := newLive(start, 30, fixedBound(100*time.Millisecond))
	for i := range 3 {
		at := start.Add(22*time.Second + time.Duration(i)*100*time.Millisecond)
		l.sent(load.Sent{Stream: "redirect", Seq: uint64(i), Scheduled: at, At: at})
	}
	phases := []reports.PhaseWindow{{Name: "baseline", StartS: 0, EndS: 8}, {Name: "fault", StartS: 8, EndS: 16}, {Name: "recovery", StartS: 16, EndS: 24}}
	for _, elapsed := range []time.Duration{24 * time.Second, 24*time.Second + 40*time.Millisecond} {
		var b bytes.Buffer
		p := &progress{w: &b}
		p.print(start.Add(elapsed), elapsed, 24*time.Second, phases, []string{"redirect"}, l, nil)
		line := b.String()
		for _, want := range []string{"24.0s/24s recovery", "redirect 2/s", "err 100.0%", "inflight 3"} {
			if !strings.Contains(line, want) {
				t.Errorf("at %s: %q lacks %q", elapsed, line, want)
			}
		}
	}
}
