package console

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/reports/traces"
)

// call is a guarded client call on edge, as the services export it.
func call(id byte, edge string, start time.Time, failed bool, attrs ...traces.Attr) traces.Span {
	s := traces.Span{TraceID: traces.TraceID{id}, SpanID: traces.SpanID{id}, Service: "gateway", Name: "call " + edge,
		Kind: traces.KindClient, Start: start, End: start.Add(5 * time.Millisecond), StatusError: failed,
		Attrs: append(traces.Attrs{{Key: traces.AttrEdge, Value: edge}}, attrs...)}
	return s
}

func breakerAttr(state string) traces.Attr {
	return traces.Attr{Key: traces.AttrBreakerState, Value: state}
}

var rejected = traces.Attr{Key: traces.AttrBulkheadRejected, Value: "true"}

func TestPoliciesFromSpans(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	transition := call(9, "gateway->link", t0.Add(3*time.Second), true, breakerAttr("open"))
	transition.Events = []traces.Event{{Name: traces.EventBreakerTransition, Time: t0.Add(3 * time.Second),
		Attrs: traces.Attrs{{Key: traces.AttrEdge, Value: "redirect->link"}, {Key: "from", Value: "closed"}, {Key: "to", Value: "half-open"}}}}
	guard := traces.Span{Service: "gateway", Kind: traces.KindServer, Start: t0.Add(4 * time.Second), End: t0.Add(4 * time.Second),
		Attrs: traces.Attrs{{Key: traces.AttrRoute, Value: "redirect"}, rejected}}
	for _, tc := range []struct {
		name     string
		batches  [][]traces.Span
		from     time.Time
		want     map[string]string
		window   map[string]int
		total    map[string]int
		trimTill time.Time
	}{
		{name: "no spans: no state", want: map[string]string{"gateway->link": ""}},
		{name: "newest state wins, whatever the arrival order",
			batches: [][]traces.Span{
				{call(1, "gateway->link", t0.Add(2*time.Second), true, breakerAttr("open"))},
				{call(2, "gateway->link", t0, false, breakerAttr("closed"))}, // exported late
			},
			want: map[string]string{"gateway->link": "open"}},
		{name: "half-open after open",
			batches: [][]traces.Span{{call(1, "gateway->link", t0, true, breakerAttr("open")),
				call(2, "gateway->link", t0.Add(time.Second), false, breakerAttr("half-open"))}},
			want: map[string]string{"gateway->link": "half-open"}},
		{name: "a transition event names its own edge",
			batches: [][]traces.Span{{transition}},
			want:    map[string]string{"gateway->link": "open", "redirect->link": "half-open"}},
		{name: "breaker-less edge and unknown states are no state",
			batches: [][]traces.Span{{call(1, "link->billing", t0, false, breakerAttr("none")), call(2, "link->link-db", t0, false)}},
			want:    map[string]string{"link->billing": "", "link->link-db": ""}},
		{name: "bulkhead refusals: the window and the total; the route guard's on the entry edge",
			batches: [][]traces.Span{
				{call(1, "gateway->redirect", t0, true, rejected), call(2, "gateway->redirect", t0.Add(5*time.Second), true, rejected)},
				{call(3, "gateway->redirect", t0.Add(6*time.Second), false), guard},
			},
			from:   t0.Add(time.Second),
			window: map[string]int{"gateway->redirect": 1, "client->gateway": 1, "gateway->link": 0},
			total:  map[string]int{"gateway->redirect": 2, "client->gateway": 1, "gateway->link": 0}},
		{name: "trim keeps the totals",
			batches:  [][]traces.Span{{call(1, "gateway->redirect", t0, true, rejected), call(2, "gateway->redirect", t0.Add(5*time.Second), true, rejected)}},
			trimTill: t0.Add(time.Second),
			window:   map[string]int{"gateway->redirect": 1},
			total:    map[string]int{"gateway->redirect": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPolicies()
			for _, b := range tc.batches {
				p.add(b)
			}
			if !tc.trimTill.IsZero() {
				p.trim(tc.trimTill)
			}
			for edge, want := range tc.want {
				if got := p.state(edge); got != want {
					t.Errorf("%s: breaker %q, want %q", edge, got, want)
				}
			}
			for edge, want := range tc.window {
				w, total := p.rejected(edge, tc.from)
				if w != want || total != tc.total[edge] {
					t.Errorf("%s: rejected %d in the window, %d in all; want %d, %d", edge, w, total, want, tc.total[edge])
				}
			}
		})
	}
}

// TestViewTakesPoliciesFromSpans: the page's breaker state, bulkhead rejections and last
// error come from the spans the lab receives, with no /metrics to scrape.
func TestViewTakesPoliciesFromSpans(t *testing.T) {
	var mu sync.Mutex
	var spans []traces.Span
	feed := func(s ...traces.Span) {
		mu.Lock()
		defer mu.Unlock()
		spans = append(spans, s...)
	}
	led := ledger.New(&fakeEnv{paused: map[string]bool{}}, ledger.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go led.Run(ctx, 50*time.Millisecond)
	s, err := Start(Options{Token: token, Ledger: led, Tick: 50 * time.Millisecond, Spans: func() []traces.Span {
		mu.Lock()
		defer mu.Unlock()
		return spans[:len(spans):len(spans)]
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	edge := func(v View, name string) Edge {
		for _, e := range v.Edges {
			if e.Name == name {
				return e
			}
		}
		t.Fatalf("no edge %s in the view", name)
		return Edge{}
	}
	now := time.Now()
	feed(call(1, "gateway->link", now, false, breakerAttr("closed")), call(2, "gateway->redirect", now, false))
	v := waitView(t, s, func(v View) bool { return edge(v, "gateway->link").Breaker == "closed" })
	if e := edge(v, "gateway->link"); e.LastErrorS != 0 || e.Calls != 1 || e.Health != "ok" {
		t.Errorf("a good call: %+v", e)
	}
	failedAt := time.Now()
	feed(call(3, "gateway->link", failedAt, true, breakerAttr("open")),
		call(4, "gateway->redirect", failedAt, true, rejected), call(5, "gateway->redirect", failedAt, true, rejected))
	v = waitView(t, s, func(v View) bool { return edge(v, "gateway->link").Breaker == "open" })
	link, redirect := edge(v, "gateway->link"), edge(v, "gateway->redirect")
	wantErr := float64(failedAt.Sub(s.live.start).Milliseconds()) / 1000
	if link.LastErrorS != wantErr || link.Health != "bad" {
		t.Errorf("open breaker after a failed call: %+v, want last error at %.3f s", link, wantErr)
	}
	if redirect.BulkheadRejected != 2 || redirect.BulkheadTotal != 2 || redirect.Health != "bad" {
		t.Errorf("two bulkhead refusals: %+v", redirect)
	}
	if other := edge(v, "link->billing"); other.Breaker != "" || other.BulkheadTotal != 0 || other.LastErrorS != 0 {
		t.Errorf("an edge no span named: %+v", other)
	}
}
