package runner

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/otlp"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
)

// The services' exposition labels every metric with service=..., and a missing series is
// unknown, never 0.
func TestMetricValue(t *testing.T) {
	const body = "# TYPE otel_spans_dropped_total counter\n" +
		"otel_spans_dropped_total_other 9\n" +
		"otel_spans_dropped_total{service=\"link\"} 42\n" +
		"process_start_time_seconds 1.7e+09\n"
	for _, c := range []struct {
		name, metric string
		want         float64
		err          error
	}{
		{"labelled", "otel_spans_dropped_total", 42, nil},
		{"unlabelled", "process_start_time_seconds", 1.7e9, nil},
		{"missing", "otel_spans_exported_total", 0, errNoMetric},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := metricValue(body, c.metric)
			if got != c.want || !errors.Is(err, c.err) {
				t.Fatalf("got %v, %v; want %v, %v", got, err, c.want, c.err)
			}
		})
	}
}

// A service whose /metrics lacks the counter is unknown, not 0.
func TestMissingCounterIsUnknown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("process_start_time_seconds 12\n"))
	}))
	defer srv.Close()
	r := readSpanCounter(context.Background(), srv.Client(), srv.URL)
	if r.ok || !errors.Is(r.err, errNoMetric) {
		t.Fatalf("read %+v: want not ok with errNoMetric", r)
	}
	if l := accountSpans(nil, counterRead{}, r); l.unknown != 1 || l.dropped != 0 {
		t.Fatalf("accounted %+v: want 1 unknown", l)
	}
}

// Each process of a service is read from its log: a killed one (start line, no count) and the
// ones before the window (an earlier attempt in the same run directory) are told apart.
func TestSpanProcessesFromLog(t *testing.T) {
	since := time.Date(2026, 11, 25, 11, 42, 0, 0, time.UTC)
	got, err := spanProcesses("testdata/spanlogs/link.log", since)
	if err != nil {
		t.Fatal(err)
	}
	want := []spanProcess{{started: true, flushed: true, dropped: 3}, {started: true}, {started: true, flushed: true, dropped: 2}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("process %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestAccountSpans(t *testing.T) {
	gone := counterRead{err: errors.New("connection refused")} // the process backend after close
	flushed := func(n int) spanProcess { return spanProcess{started: true, flushed: true, dropped: n} }
	killed := spanProcess{started: true}
	for _, c := range []struct {
		name          string
		procs         []spanProcess
		before, after counterRead
		dropped       int
		unknown       int
	}{
		{"clean exit, nothing lost", []spanProcess{flushed(0)}, counterRead{ok: true, start: 1}, gone, 0, 0},
		{"clean exit, loss counted", []spanProcess{flushed(7)}, counterRead{ok: true, start: 1}, gone, 7, 0},
		{"no count at all is unknown, not 0", nil, counterRead{ok: true, start: 1}, gone, 0, 1},
		{"killed then restarted: the killed one is unknown, not reset to 0", []spanProcess{killed, flushed(2)}, counterRead{ok: true, start: 1}, gone, 2, 1},
		{"restarts add up", []spanProcess{flushed(3), flushed(2)}, counterRead{ok: true, start: 1}, gone, 5, 0},
		{"killed last", []spanProcess{flushed(3), killed}, counterRead{ok: true, start: 1}, gone, 3, 1},
		{"still running: the run's difference", nil, counterRead{ok: true, dropped: 5, start: 100}, counterRead{ok: true, dropped: 8, start: 100}, 3, 0},
		{"still running after a clean restart", []spanProcess{{flushed: true, dropped: 7}, {started: true}},
			counterRead{ok: true, dropped: 5, start: 100}, counterRead{ok: true, dropped: 1, start: 200}, 1 + 2, 0},
		{"still running after a kill: the killed one is unknown", []spanProcess{{started: true}},
			counterRead{ok: true, dropped: 5, start: 100}, counterRead{ok: true, dropped: 1, start: 200}, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := accountSpans(c.procs, c.before, c.after)
			if l.dropped != c.dropped || l.unknown != c.unknown || len(l.why) != l.unknown {
				t.Fatalf("got %+v, want dropped %d, unknown %d (each with a why)", l, c.dropped, c.unknown)
			}
		})
	}
}

// A crash the scenario asked for explains the crashed service's unknown loss, and only its own.
func TestSDKSpanLossExpectedCrash(t *testing.T) {
	since := time.Date(2026, 11, 25, 11, 42, 0, 0, time.UTC)
	dead := func(string) string { return "http://127.0.0.1:1" } // every service closed
	before := map[string]counterRead{}
	for _, c := range []struct {
		name     string
		killed   map[string]int
		expected bool
	}{
		{"link crashed by the scenario", killedBy([]reports.FaultEvent{{Fault: "crash", Target: "link"}}), true},
		{"restart counts as a kill", killedBy([]reports.FaultEvent{{Fault: "restart", Target: "link"}}), true},
		{"another service crashed", killedBy([]reports.FaultEvent{{Fault: "crash", Target: "analytics"}}), false},
		{"link only paused", killedBy([]reports.FaultEvent{{Fault: "pause", Target: "link"}}), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dropped, unknown := sdkSpanLoss(context.Background(), http.DefaultClient, dead, "testdata/spanlogs", since, before, c.killed)
			if dropped != 5 {
				t.Errorf("dropped %d, want 3+2 from link's two counted processes", dropped)
			}
			var link *reports.UnknownSpanLoss
			for i, u := range unknown {
				if u.Service == "link" {
					link = &unknown[i]
				} else if u.Expected != (c.killed[u.Service] > 0) {
					t.Errorf("%s: expected=%v, but the scenario killed it %d times: %+v", u.Service, u.Expected, c.killed[u.Service], u)
				}
			}
			// The other services have no log here: their loss is unknown too.
			if len(unknown) != len(services) || link == nil || link.Processes != 1 || link.Expected != c.expected {
				t.Fatalf("unknown %+v: want every service, link with 1 process, expected=%v", unknown, c.expected)
			}
			th := &reports.TelemetryHealth{SDKLossUnknown: []reports.UnknownSpanLoss{*link}}
			if why := verdict.SpanLossInvalid(th); (why == "") != c.expected {
				t.Fatalf("invalid because %q; want valid only when the scenario killed link", why)
			}
		})
	}
}

// TestSpanAccountingRealSystem checks the accounting against the real services' logs: after a
// clean shutdown every service has its final count, and a service killed with SIGKILL (and
// started again) has one process of unknown loss, expected only because the scenario killed it.
func TestSpanAccountingRealSystem(t *testing.T) {
	bin := needSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	recv := otlp.NewReceiver(otlp.Options{})
	endpoint, err := recv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close(context.Background())
	dir := t.TempDir()
	since := time.Now()
	l, err := lab.Start(ctx, lab.Options{Dir: dir, Binary: bin, OTLPEndpoint: endpoint, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	before := map[string]counterRead{}
	for _, svc := range services {
		if before[svc] = readSpanCounter(ctx, httpClient(), l.Direct(svc)); !before[svc].ok {
			t.Fatalf("%s: counter not readable from the real service: %v", svc, before[svc].err)
		}
	}
	for range 5 {
		resp, err := http.Get(l.Gateway() + "/r/nope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	c, err := l.Env().Component("redirect")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if recv.Stats().Received == 0 {
		t.Fatal("no spans received")
	}
	killed := killedBy([]reports.FaultEvent{{Fault: "crash", Target: "redirect"}})
	dropped, unknown := sdkSpanLoss(ctx, httpClient(), l.Direct, filepath.Join(dir, "logs"), since, before, killed)
	if dropped != 0 {
		t.Errorf("services dropped %d spans on a quiet loopback run", dropped)
	}
	if len(unknown) != 1 || unknown[0].Service != "redirect" || unknown[0].Processes != 1 || !unknown[0].Expected {
		t.Fatalf("unknown loss %+v: want only redirect's killed process, expected", unknown)
	}
}
