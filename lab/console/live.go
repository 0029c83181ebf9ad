package console

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/scenarios/gameday"
	"github.com/faultline/faultline/system/topology"
)

// Metric names the services export (system/internal/telemetry, proven on real Prometheus by
// dashboards/); the lab may not import the system's internals.
const (
	metricBreakerState = "resilience_breaker_state"             // 0 closed, 1 half-open, 2 open
	metricBulkhead     = "resilience_bulkhead_rejections_total" // counter per edge
	labelEdge          = "edge"
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
	Breaker   string  `json:"breaker,omitempty"` // closed, half-open, open; "" = no breaker seen
	// BulkheadRejected is the bulkhead rejections in the window; BulkheadTotal since start.
	BulkheadRejected float64 `json:"bulkhead_rejected"`
	BulkheadTotal    float64 `json:"bulkhead_total"`
	Health           string  `json:"health"`
	Faulted          bool    `json:"faulted"`
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
	o      Options
	start  time.Time
	client *http.Client

	mu      sync.Mutex
	view    View
	payload []byte
	subs    map[chan []byte]struct{}
	pokeCh  chan struct{}

	// touched by the loop only
	spanSeen  int
	recent    []traces.Span // spans whose start falls in the window (plus a margin)
	bulkhead  map[string][]point
	state     map[string]string
	stateNext time.Time
	seq       int64
}

type point struct {
	at time.Time
	v  float64
}

func newLive(o Options) *live {
	start := time.Now()
	switch {
	case !o.Start.IsZero():
		start = o.Start
	case o.Session != nil:
		start = o.Session.Start()
	}
	l := &live{o: o, start: start, client: &http.Client{Timeout: 800 * time.Millisecond},
		subs: map[chan []byte]struct{}{}, pokeCh: make(chan struct{}, 1), bulkhead: map[string][]point{}}
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

func (l *live) run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.pokeCh:
		}
		l.update(ctx, time.Now())
	}
}

func (l *live) current() View {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.view
}

// subscribe returns a channel of encoded views, starting with the current one.
func (l *live) subscribe() (<-chan []byte, func()) {
	ch := make(chan []byte, 2)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	ch <- l.payload
	l.mu.Unlock()
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
// breaker and bulkhead from the services' metrics.
func (l *live) mapView(ctx context.Context, v *View, now time.Time) {
	faulted := map[string]bool{}
	for _, f := range v.Faults {
		faulted[f.Target] = true
	}
	figs := map[string]reports.EdgeFigure{}
	if l.o.Spans != nil {
		all := l.o.Spans()
		if len(all) < l.spanSeen { // the receiver was reset
			l.spanSeen, l.recent = 0, nil
		}
		l.recent = append(l.recent, all[l.spanSeen:]...)
		l.spanSeen = len(all)
		v.Spans = len(all)
		// Keep a margin before the window, so a child's parent is still there.
		keep := now.Add(-l.o.Window - 5*time.Second)
		i := sort.Search(len(l.recent), func(i int) bool { return !l.recent[i].Start.Before(keep) })
		if i > 0 && sortedByStart(l.recent) {
			l.recent = append([]traces.Span(nil), l.recent[i:]...)
		} else {
			l.recent = dropBefore(l.recent, keep)
		}
		from := now.Add(-l.o.Window).Sub(l.start).Seconds()
		win := []reports.PhaseWindow{{Name: "now", StartS: from, EndS: now.Sub(l.start).Seconds()}}
		for _, e := range traces.ServiceMap(l.recent, win, l.start) {
			if len(e.Phases) > 0 {
				figs[topology.EdgeName(e.From, e.To)] = e.Phases[0]
			}
		}
	}
	breakers, bulk := l.scrape(ctx, now)
	if l.o.Status != nil && !now.Before(l.stateNext) {
		l.state = l.o.Status(ctx)
		l.stateNext = now.Add(2 * time.Second)
	}
	into := map[string][]reports.EdgeFigure{}
	for _, e := range topology.Edges() {
		f := figs[e.Name]
		ed := Edge{Name: e.Name, From: e.From, To: e.To, Calls: f.Calls, ErrorRate: f.ErrorRate, P50Ms: f.P50Ms, P99Ms: f.P99Ms,
			Breaker: breakers[e.Name], Faulted: faulted[e.Name]}
		if pts := bulk[e.Name]; len(pts) > 0 {
			ed.BulkheadTotal = pts[len(pts)-1].v
			ed.BulkheadRejected = pts[len(pts)-1].v - pts[0].v
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

func sortedByStart(s []traces.Span) bool {
	return sort.SliceIsSorted(s, func(i, j int) bool { return s[i].Start.Before(s[j].Start) })
}

func dropBefore(s []traces.Span, t time.Time) []traces.Span {
	out := s[:0:0]
	for _, sp := range s {
		if !sp.Start.Before(t) {
			out = append(out, sp)
		}
	}
	return out
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

// scrape reads breaker states and bulkhead counters from every service, concurrently, each
// bounded by the client's timeout; bulkhead points are kept for the window.
func (l *live) scrape(ctx context.Context, now time.Time) (map[string]string, map[string][]point) {
	breakers := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	counts := map[string]float64{}
	for _, u := range l.o.Metrics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return
			}
			resp, err := l.client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, bk := parseMetrics(io.LimitReader(resp.Body, 4<<20))
			mu.Lock()
			for k, v := range b {
				breakers[k] = v
			}
			for k, v := range bk {
				counts[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for edge, v := range counts {
		pts := append(l.bulkhead[edge], point{now, v})
		cut := 0
		for cut < len(pts)-1 && pts[cut].at.Before(now.Add(-l.o.Window)) {
			cut++
		}
		l.bulkhead[edge] = pts[cut:]
	}
	return breakers, l.bulkhead
}

// parseMetrics reads the Prometheus text format for the two families the map shows.
func parseMetrics(r io.Reader) (breakers map[string]string, bulkhead map[string]float64) {
	breakers, bulkhead = map[string]string{}, map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var family string
		switch {
		case strings.HasPrefix(line, metricBreakerState+"{"):
			family = metricBreakerState
		case strings.HasPrefix(line, metricBulkhead+"{"):
			family = metricBulkhead
		default:
			continue
		}
		labels, value, ok := strings.Cut(line[len(family)+1:], "} ")
		if !ok {
			continue
		}
		edge := labelValue(labels, labelEdge)
		f, err := strconv.ParseFloat(strings.Fields(value + " ")[0], 64)
		if edge == "" || err != nil {
			continue
		}
		if family == metricBulkhead {
			bulkhead[edge] += f
			continue
		}
		switch f {
		case 0:
			breakers[edge] = "closed"
		case 1:
			breakers[edge] = "half-open"
		case 2:
			breakers[edge] = "open"
		}
	}
	return breakers, bulkhead
}

func labelValue(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.TrimSpace(k) == name {
			if s, err := strconv.Unquote(strings.TrimSpace(v)); err == nil {
				return s
			}
		}
	}
	return ""
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
