package console

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/scenarios/gameday"
	"github.com/faultline/faultline/system/topology"
)

// View is one refresh of the page: everything it shows.
type View struct {
	Seq      int64                `json:"seq"`
	Now      time.Time            `json:"now"`
	ElapsedS float64              `json:"elapsed_s"` // since the console (the game day) started
	WindowS  float64              `json:"window_s"`  // the map's figures cover the last WindowS
	Halted   bool                 `json:"halted"`
	HaltedBy string               `json:"halted_by,omitempty"`
	Deadman  Deadman              `json:"deadman"`
	Faults   []FaultView          `json:"faults"`
	Windows  []FaultWindow        `json:"fault_windows"` // for shading the charts
	Timeline []Item               `json:"timeline"`      // newest last, at most maxTimeline
	Nodes    []Node               `json:"nodes"`
	Edges    []Edge               `json:"edges"`
	Streams  []gameday.StreamView `json:"streams"`
	SLOs     []gameday.SLOSpec    `json:"slos"`
	Spans    int                  `json:"spans"` // received so far
}

// Deadman is the dead-man switch's state.
type Deadman struct {
	TimeoutS float64 `json:"timeout_s"` // <= 0: off
	SilentS  float64 `json:"silent_s"`  // since the last heartbeat
	Armed    bool    `json:"armed"`     // some active fault came from a console
}

// FaultView is an active fault with its time left.
type FaultView struct {
	ledger.Fault
	AtS   float64 `json:"at_s"`
	LeftS float64 `json:"left_s"` // -1: until healed
}

// FaultWindow is a fault's time span on the console's clock (ToS -1: still active).
type FaultWindow struct {
	Label  string  `json:"label"`
	Target string  `json:"target"`
	FromS  float64 `json:"from_s"`
	ToS    float64 `json:"to_s"`
}

// Item is a timeline event on the console's clock.
type Item struct {
	AtS float64 `json:"at_s"`
	ledger.Event
}

// Node is one component on the map.
type Node struct {
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	State     string  `json:"state,omitempty"` // ready, crashed, paused…
	Calls     int     `json:"calls"`           // into it, in the window
	ErrorRate float64 `json:"error_rate"`
	P99Ms     float64 `json:"p99_ms"`
	Health    string  `json:"health"` // ok, warn, bad, idle
	Faulted   bool    `json:"faulted"`
}

// Edge is one edge on the map.
type Edge struct {
	Name      string  `json:"name"`
	From      string  `json:"from"`
	To        string  `json:"to"`
	Calls     int     `json:"calls"`
	ErrorRate float64 `json:"error_rate"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	// LastErrorS is when the newest failed call in the window started (console clock; 0 none).
	LastErrorS float64 `json:"last_error_s,omitempty"`
	Breaker    string  `json:"breaker,omitempty"` // closed, half-open, open; "" = no breaker seen
	// BulkheadRejected is the calls the bulkhead refused in the window; BulkheadTotal since
	// the console started. Both from the spans, like Breaker.
	BulkheadRejected int    `json:"bulkhead_rejected"`
	BulkheadTotal    int    `json:"bulkhead_total"`
	Health           string `json:"health"`
	Faulted          bool   `json:"faulted"`
}

const (
	maxTimeline = 300
	chartSecs   = 300 // the stream charts show the last five minutes
)

// Health thresholds for colours: what a team would call worrying (warn) and broken (bad).
const (
	warnErrorRate = 0.01
	badErrorRate  = 0.10
	warnP99Ms     = 200
	badP99Ms      = 1000
)

// live computes the View once per tick for every subscriber.
type live struct {
	o     Options
	start time.Time

	mu      sync.Mutex
	view    View
	payload []byte
	subs    map[chan []byte]struct{}
	pokeCh  chan struct{}

	// touched by the loop only
	spanSeen  int
	peekSeen  int               // the spans newFailure looked at
	calls     *traces.LiveIndex // the calls of the spans that can still fall in the window
	policies  *policies
	state     map[string]string
	stateNext time.Time
	seq       int64
}

func newLive(o Options) *live {
	start := time.Now()
	switch {
	case !o.Start.IsZero():
		start = o.Start
	case o.Session != nil:
		start = o.Session.Start()
	}
	l := &live{o: o, start: start, subs: map[chan []byte]struct{}{}, pokeCh: make(chan struct{}, 1), policies: newPolicies(), calls: traces.NewLiveIndex()}
	l.update(context.Background(), time.Now())
	return l
}

// poke asks for a refresh now (after a control), so the page answers a click at once.
func (l *live) poke() {
	select {
	case l.pokeCh <- struct{}{}:
	default:
	}
}

// run refreshes the view every tick while a page is open, at once when poked, and between
// ticks when a failed call's span arrives: a peek every eighth of a tick looks at the new
// spans only, and a failure there refreshes the view a quarter tick after the last refresh at
// the earliest (at once if that is past). So a failed request is on the page within the
// services' span batch (200 ms), an eighth of a tick and one refresh; under a steady stream of
// errors the view refreshes at most four times a tick.
func (l *live) run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	peek := time.NewTicker(tick / 8)
	defer peek.Stop()
	var last time.Time
	var soon <-chan time.Time // a refresh owed to a failure, held back by the quarter-tick gap
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !l.watched() {
				continue // no page open: the console costs the lab nothing but this tick
			}
		case <-peek.C:
			if soon != nil || !l.watched() || !l.newFailure() {
				continue
			}
			if wait := tick/4 - time.Since(last); wait > 0 {
				soon = time.After(wait)
				continue
			}
		case <-soon:
		case <-l.pokeCh:
		}
		soon = nil
		last = time.Now()
		l.update(ctx, last)
	}
}

// newFailure says whether a span that came since the last look is a failed call; each span
// is looked at once.
func (l *live) newFailure() bool {
	if l.o.Spans == nil {
		return false
	}
	all := l.o.Spans()
	from := max(l.peekSeen, l.spanSeen)
	if from > len(all) { // the receiver was reset
		from = 0
	}
	l.peekSeen = len(all)
	for i := from; i < len(all); i++ {
		if all[i].Failed() {
			return true
		}
	}
	return false
}

// watched says whether a page (or any subscriber) is open.
func (l *live) watched() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs) > 0
}

// fresh returns a view computed now (for a request with no page open, whose view may be
// old): it asks for a refresh and waits for it, at most 2 s (then the last view).
func (l *live) fresh(ctx context.Context) View {
	old := l.current().Seq
	l.poke()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for {
		v := l.current()
		if v.Seq > old {
			return v
		}
		select {
		case <-ctx.Done():
			return v
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (l *live) current() View {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.view
}

// subscribe returns a channel of encoded views, starting with the current one (a fresh one
// follows at once: with no page open the views were not refreshed).
func (l *live) subscribe() (<-chan []byte, func()) {
	ch := make(chan []byte, 2)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	ch <- l.payload
	l.mu.Unlock()
	l.poke()
	return ch, func() {
		l.mu.Lock()
		if _, ok := l.subs[ch]; ok {
			delete(l.subs, ch)
			close(ch)
		}
		l.mu.Unlock()
	}
}

func (l *live) closeSubscribers() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		delete(l.subs, ch)
		close(ch)
	}
}

func (l *live) update(ctx context.Context, now time.Time) {
	l.seq++
	v := View{Seq: l.seq, Now: now, ElapsedS: round1(now.Sub(l.start).Seconds()), WindowS: l.o.Window.Seconds()}
	l.ledgerView(&v, now)
	l.mapView(ctx, &v, now)
	switch {
	case l.o.Session != nil:
		v.Streams, v.SLOs = l.o.Session.View(now, chartSecs)
	case l.o.Streams != nil:
		v.Streams, v.SLOs = l.o.Streams(now, chartSecs)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.view, l.payload = v, b
	for ch := range l.subs {
		select {
		case ch <- b:
		default: // a slow page skips a frame rather than holding the others back
		}
	}
	l.mu.Unlock()
}

func (l *live) at(t time.Time) float64 { return round1(t.Sub(l.start).Seconds()) }

func (l *live) ledgerView(v *View, now time.Time) {
	snap := l.o.Ledger.Snapshot()
	v.Halted, v.HaltedBy = snap.Halted, snap.HaltedBy
	v.Deadman = Deadman{TimeoutS: snap.Deadman.Seconds(), SilentS: round1(now.Sub(snap.LastBeat).Seconds())}
	v.Faults = []FaultView{}
	for _, f := range snap.Faults {
		fv := FaultView{Fault: f, AtS: l.at(f.AppliedAt), LeftS: -1}
		if !f.Until.IsZero() {
			fv.LeftS = round1(max(f.Until.Sub(now).Seconds(), 0))
		}
		v.Deadman.Armed = v.Deadman.Armed || f.Source == ledger.SourceConsole
		v.Faults = append(v.Faults, fv)
	}
	events := l.o.Ledger.Events(0)
	open := map[int]int{}
	v.Windows = []FaultWindow{}
	for _, e := range events {
		switch e.Kind {
		case ledger.KindInject:
			open[e.FaultID] = len(v.Windows)
			v.Windows = append(v.Windows, FaultWindow{Label: e.Fault + " " + e.Target, Target: e.Target, FromS: l.at(e.At), ToS: -1})
		case ledger.KindHeal, ledger.KindExpire, ledger.KindDeadman:
			if i, ok := open[e.FaultID]; ok {
				v.Windows[i].ToS = l.at(e.At)
				delete(open, e.FaultID)
			}
		}
	}
	if len(events) > maxTimeline {
		events = events[len(events)-maxTimeline:]
	}
	v.Timeline = make([]Item, 0, len(events))
	for _, e := range events {
		v.Timeline = append(v.Timeline, Item{AtS: l.at(e.At), Event: e})
	}
}

// mapView learns the map from the spans of the last window, colours it, and adds each edge's
// breaker and bulkhead, also from the spans.
func (l *live) mapView(ctx context.Context, v *View, now time.Time) {
	faulted := map[string]bool{}
	for _, f := range v.Faults {
		faulted[f.Target] = true
	}
	figs := map[string]reports.EdgeFigure{}
	lastErr := map[string]time.Time{}
	winStart := now.Add(-l.o.Window)
	if l.o.Spans != nil {
		all := l.o.Spans()
		if len(all) < l.spanSeen { // the receiver was reset
			l.spanSeen, l.calls = 0, traces.NewLiveIndex()
		}
		// Keep a margin before the window, so a child's parent is still there (a call waits
		// at most its route's deadline, 1-2 s). The spans that came while no page was open
		// are read once for the policies' state; only those that can still count are indexed,
		// each trace when its spans arrive (traces.LiveIndex), not the window every second.
		keep := now.Add(-l.o.Window - 3*time.Second)
		fresh := all[l.spanSeen:]
		l.policies.add(fresh)
		l.policies.trim(winStart)
		lo := 0
		for i := range fresh {
			if fresh[i].Start.Before(keep) {
				l.calls.Add(fresh[lo:i])
				lo = i + 1
			}
		}
		l.calls.Add(fresh[lo:])
		l.calls.Forget(keep)
		l.spanSeen = len(all)
		v.Spans = len(all)
		var edges []reports.MapEdge
		edges, lastErr = l.calls.Map("now", winStart, now)
		for _, e := range edges {
			if len(e.Phases) > 0 {
				figs[topology.EdgeName(e.From, e.To)] = e.Phases[0]
			}
		}
	}
	if l.o.Status != nil && !now.Before(l.stateNext) {
		l.state = l.o.Status(ctx)
		l.stateNext = now.Add(2 * time.Second)
	}
	into := map[string][]reports.EdgeFigure{}
	for _, e := range topology.Edges() {
		f := figs[e.Name]
		ed := Edge{Name: e.Name, From: e.From, To: e.To, Calls: f.Calls, ErrorRate: f.ErrorRate, P50Ms: f.P50Ms, P99Ms: f.P99Ms,
			Breaker: l.policies.state(e.Name), Faulted: faulted[e.Name]}
		ed.BulkheadRejected, ed.BulkheadTotal = l.policies.rejected(e.Name, winStart)
		if t, ok := lastErr[e.Name]; ok {
			ed.LastErrorS = float64(t.Sub(l.start).Milliseconds()) / 1000 // ms: each new error changes it
		}
		ed.Health = health(f.Calls, f.ErrorRate, f.P99Ms)
		if ed.Breaker == "open" || ed.BulkheadRejected > 0 {
			ed.Health = worst(ed.Health, "warn")
		}
		into[e.To] = append(into[e.To], f)
		v.Edges = append(v.Edges, ed)
	}
	for _, c := range append([]string{"client"}, topology.Components()...) {
		n := Node{Name: c, Kind: topology.KindOf(c), State: l.state[c], Faulted: faulted[c]}
		calls, errs := 0, 0.0
		for _, f := range into[c] {
			calls += f.Calls
			errs += f.ErrorRate * float64(f.Calls)
			n.P99Ms = max(n.P99Ms, f.P99Ms)
		}
		n.Calls = calls
		if calls > 0 {
			n.ErrorRate = errs / float64(calls)
		}
		n.Health = health(calls, n.ErrorRate, n.P99Ms)
		switch n.State {
		case "crashed", "unready":
			n.Health = "bad"
		case "paused":
			n.Health = worst(n.Health, "warn")
		}
		v.Nodes = append(v.Nodes, n)
	}
}

func health(calls int, errRate, p99 float64) string {
	switch {
	case calls == 0:
		return "idle"
	case errRate >= badErrorRate || p99 >= badP99Ms:
		return "bad"
	case errRate >= warnErrorRate || p99 >= warnP99Ms:
		return "warn"
	}
	return "ok"
}

func worst(a, b string) string {
	rank := map[string]int{"idle": 0, "ok": 1, "warn": 2, "bad": 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
