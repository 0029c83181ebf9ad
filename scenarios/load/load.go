// Package load drives open-model HTTP load streams with vegeta and records every request.
package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxWorkers  = 2000    // per stream: bounds memory when responses slow down
	DefaultMaxRequests = 5000000 // per Run, across streams
	maxBody            = 64 << 10
)

// Sentinel errors.
var (
	ErrRemote  = errors.New("load: target is not loopback (allow it explicitly)")
	ErrStreams = errors.New("load: invalid stream")
)

// Stream is one named load stream at a constant or linearly ramped arrival rate.
type Stream struct {
	Name   string
	Method string
	Path   string  // may contain {code}, replaced by a code drawn from Codes
	Rate   float64 // per second; with a Ramp or Stages, the rate it holds after them
	Ramp   *Ramp
	Stages []Stage
	Body   string   // JSON template: <seq> is the sequence number, <n> an account number 1..10
	Codes  []string // pool for {code}
}

// Ramp moves the rate linearly from From to To during Over, then holds To.
type Ramp struct {
	From, To float64
	Over     time.Duration
}

// Stage holds Rate for For; the last stage's rate holds after the stages.
type Stage struct {
	Rate float64
	For  time.Duration
}

// StreamsFrom converts a scenario's streams; codes come from Setup. A {code} stream draws
// from the first Stream.Codes of them.
func StreamsFrom(sc *scenarios.Scenario, codes []string) []Stream {
	out := make([]Stream, 0, len(sc.Load))
	for _, st := range sc.Load {
		s := Stream{Name: st.Name, Method: st.Method, Path: st.Path, Rate: st.Rate, Body: st.Body}
		if st.Ramp != nil {
			s.Ramp = &Ramp{From: st.Ramp.From, To: st.Ramp.To, Over: st.Ramp.Over.D()}
		}
		for _, sg := range st.Stages {
			s.Stages = append(s.Stages, Stage{Rate: sg.Rate, For: sg.For.D()})
		}
		if st.UsesCodes() {
			s.Codes = codes[:min(st.Codes, len(codes))]
		}
		out = append(out, s)
	}
	return out
}

// Options tune a Run.
type Options struct {
	Seed        int64         // seeds the code mix of every stream
	Timeout     time.Duration // per request
	MaxWorkers  uint64        // per stream
	MaxRequests uint64        // per Run, across streams
	AllowRemote bool          // permit a non-loopback target
	// Phase, when set, names the phase of a scheduled offset from the run start.
	Phase func(at time.Duration) string
	// OnSend, when set, is told of each request as it is handed to the transport, so a caller
	// can see requests in flight (a hang) before their Result exists. It is called from the
	// sending goroutines, concurrently: keep it short. The Result of the same Stream and Seq
	// always follows, through sink.
	OnSend func(Sent)
}

// Sent is a request handed to the transport and not necessarily answered yet.
type Sent struct {
	Stream    string
	Seq       uint64
	Scheduled time.Time // when the pacer meant to send it
	At        time.Time // when it was handed to the transport
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxWorkers == 0 {
		o.MaxWorkers = DefaultMaxWorkers
	}
	if o.MaxRequests == 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	return o
}

// Result is one request.
type Result struct {
	Stream    string
	Seq       uint64
	Scheduled time.Time // when the pacer meant to send it: stream start + offset of Seq
	Sent      time.Time // when it was sent
	Latency   time.Duration
	Code      int    // 0 on a transport error
	Err       string // transport error, or the status text outside 2xx/3xx
	BytesIn   int
	// Body is the response body (at most 64 KiB), kept only for streams that send a body
	// (POST, PUT, PATCH), whose answers callers need (the code of a created link); redirect
	// bodies are dropped to keep memory flat.
	Body  []byte
	Phase string
	// ClickCode is the code of a redirect (GET or HEAD /r/CODE), "" for any other request: a
	// 302 answer is a click the system acknowledged to its client and must count exactly once.
	ClickCode string
	// SentURL is the "url" of the JSON body sent (a link creation), "" when the body has none.
	SentURL string
	// Resent counts the extra times Go's transport wrote this request on its own: a GET
	// whose reused connection broke after the request was written is sent again on a new
	// one, invisibly to vegeta. The server may have acted on each copy.
	Resent int
}

// Lag is how late the generator sent the request; large lag means the generator, not the
// system, limited the rate, and latencies are then understated.
func (r Result) Lag() time.Duration { return r.Sent.Sub(r.Scheduled) }

// Sample converts the result for reports, with times relative to the run start.
func (r Result) Sample(start time.Time) reports.Sample {
	return reports.Sample{
		Stream: r.Stream, Phase: r.Phase, At: r.Scheduled.Sub(start), Lag: r.Lag(),
		Latency: r.Latency, Code: r.Code, Err: r.Err,
	}
}

// Run drives every stream concurrently against target (a base URL such as
// http://127.0.0.1:8080) for d, and hands each result to sink. sink calls are serialised, so
// sink needs no locking. Run returns when every stream stopped: after d, on ctx cancellation,
// or when MaxRequests were sent. It refuses a non-loopback target unless AllowRemote.
func Run(ctx context.Context, target string, streams []Stream, d time.Duration, opts Options, sink func(Result)) error {
	opts = opts.withDefaults()
	base, err := check(ctx, target, streams, d, opts)
	if err != nil {
		return err
	}
	start := time.Now()
	budget := &atomic.Int64{}
	budget.Store(int64(min(opts.MaxRequests, math.MaxInt64)))
	var (
		sinkMu sync.Mutex
		wg     sync.WaitGroup
	)
	emit := func(r Result) {
		if opts.Phase != nil {
			r.Phase = opts.Phase(r.Scheduled.Sub(start))
		}
		sinkMu.Lock()
		defer sinkMu.Unlock()
		sink(r)
	}
	for _, st := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runStream(ctx, base, st, d, opts, budget, emit)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// check is what Run and StartProcess refuse before sending anything: a target that is not
// loopback (unless allowed), a duration of 0, an invalid stream.
func check(ctx context.Context, target string, streams []Stream, d time.Duration, opts Options) (*url.URL, error) {
	base, err := CheckTarget(ctx, target, opts.AllowRemote)
	if err != nil {
		return nil, err
	}
	if d <= 0 {
		return nil, fmt.Errorf("load: duration %s: want > 0", d)
	}
	for _, st := range streams {
		if err := st.validate(); err != nil {
			return nil, err
		}
	}
	return base, nil
}

func (st Stream) validate() error {
	switch {
	case st.Name == "":
		return fmt.Errorf("%w: no name", ErrStreams)
	case st.Ramp != nil && len(st.Stages) > 0:
		return fmt.Errorf("%w %s: a ramp or stages, not both", ErrStreams, st.Name)
	case badStages(st.Stages):
		return fmt.Errorf("%w %s: stages %+v: want 0 <= rate <= %d (one > 0) and for > 0", ErrStreams, st.Name, st.Stages, scenarios.MaxRate)
	case st.Ramp == nil && len(st.Stages) == 0 && (st.Rate <= 0 || st.Rate > scenarios.MaxRate):
		return fmt.Errorf("%w %s: rate %g: want 0 < rate <= %d", ErrStreams, st.Name, st.Rate, scenarios.MaxRate)
	case st.Ramp != nil && (st.Ramp.From < 0 || st.Ramp.To <= 0 || st.Ramp.Over <= 0 || max(st.Ramp.From, st.Ramp.To) > scenarios.MaxRate):
		return fmt.Errorf("%w %s: ramp %+v", ErrStreams, st.Name, *st.Ramp)
	case strings.Contains(st.Path, "{code}") && len(st.Codes) == 0:
		return fmt.Errorf("%w %s: %s needs codes (run Setup first)", ErrStreams, st.Name, st.Path)
	}
	return nil
}

// badStages refuses a rate out of range or a stage without length; a stage may be 0/s (the
// stream pauses) as long as one sends.
func badStages(stages []Stage) bool {
	sends := len(stages) == 0
	for _, sg := range stages {
		if sg.Rate < 0 || sg.Rate > scenarios.MaxRate || sg.For <= 0 {
			return true
		}
		sends = sends || sg.Rate > 0
	}
	return !sends
}

func runStream(ctx context.Context, base *url.URL, st Stream, d time.Duration, opts Options, budget *atomic.Int64, emit func(Result)) {
	p := newPacer(st, budget)
	p.end = d
	p.wait = newWaiter()
	defer p.wait.close()
	tr := &http.Transport{
		Proxy:               nil, // loopback load never goes through an environment proxy
		DialContext:         (&net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        int(opts.MaxWorkers),
		MaxIdleConnsPerHost: int(opts.MaxWorkers), // one idle connection per worker: no reconnect churn
		IdleConnTimeout:     90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	hook := &sendHook{next: tr, stream: st.Name, p: p, on: opts.OnSend}
	// No vegeta.KeepAlive: tr keeps connections alive already, and that option type-asserts
	// the client's transport, which the send hook wraps.
	atk := vegeta.NewAttacker(
		vegeta.Client(&http.Client{Transport: hook}),
		vegeta.Timeout(opts.Timeout),
		vegeta.Redirects(vegeta.NoFollow), // a 302 is the shortener's success, not a hop to follow
		vegeta.Workers(min(opts.MaxWorkers, 16)),
		vegeta.MaxWorkers(opts.MaxWorkers),
		vegeta.MaxBody(maxBody),
	)
	// The watcher stops the attack on cancellation; it ends with the stream.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-done:
		}
	}()
	defer func() { close(done); wg.Wait() }()

	tg := newTargeter(base, st, opts.Seed)
	for res := range atk.Attack(tg.next, p, d, st.Name) {
		r := Result{
			Stream: st.Name, Seq: res.Seq, Sent: res.Timestamp, Latency: res.Latency,
			Code: int(res.Code), Err: res.Error, BytesIn: int(res.BytesIn),
		}
		if st.Body != "" && len(res.Body) > 0 {
			r.Body = res.Body // vegeta allocates a fresh body per result
		}
		r.ClickCode, r.SentURL = tg.sent(res.Method, res.URL)
		r.Scheduled = p.scheduled(res.Seq)
		r.Resent = hook.resentOf(res.Seq)
		emit(r)
	}
}

// sendHook tells OnSend of each request as it reaches the transport, and counts the
// connections the transport took for it: more than one means the transport wrote it again
// (see Result.Resent). vegeta numbers each request in its X-Vegeta-Seq header with the Seq
// its Result will carry, so the two meet.
type sendHook struct {
	next   http.RoundTripper
	stream string
	p      *pacer
	on     func(Sent) // nil: nobody watches sends

	mu     sync.Mutex
	resent map[uint64]int // Seq → extra writes, until its Result takes it
}

// conns counts the connections one request got. Not pooled: a transport may keep a
// request's trace past RoundTrip (a dial it started still finishing), so each request has
// its own.
type conns struct {
	n     int
	trace httptrace.ClientTrace
}

func (h *sendHook) RoundTrip(req *http.Request) (*http.Response, error) {
	v := req.Header["X-Vegeta-Seq"]
	if len(v) != 1 {
		return h.next.RoundTrip(req)
	}
	seq, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		return h.next.RoundTrip(req)
	}
	if h.on != nil {
		h.on(Sent{Stream: h.stream, Seq: seq, Scheduled: h.p.scheduled(seq), At: time.Now()})
	}
	c := &conns{}
	c.trace.GotConn = func(httptrace.GotConnInfo) { c.n++ }
	resp, err := h.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), &c.trace)))
	if c.n > 1 {
		h.mu.Lock()
		if h.resent == nil {
			h.resent = map[uint64]int{}
		}
		h.resent[seq] += c.n - 1
		h.mu.Unlock()
	}
	return resp, err
}

// resentOf returns and forgets the extra writes of request seq.
func (h *sendHook) resentOf(seq uint64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.resent[seq]
	if ok {
		delete(h.resent, seq)
	}
	return n
}

// pacer paces one stream and remembers when the attack began, so each result's intended send
// time can be computed from its sequence number. The rate is piecewise linear: segments one
// after the other from the start (a ramp, or constant stages), then hold.
type pacer struct {
	segs   []segment
	hold   float64 // per second, after the segments
	budget *atomic.Int64
	// end is the run's length: a hit due at or after it is not sent. vegeta stops only once
	// elapsed > duration, so a hit due at exactly the duration went out, belonged to no phase
	// and made every stream send rate × duration + 1 (smoke: 2,401 redirects for 3 × 800).
	end time.Duration
	// wait, when set, sleeps until a hit is due here, precisely (waiter), instead of leaving
	// the sleep to vegeta's time.Sleep.
	wait *waiter

	mu    sync.Mutex
	began time.Time
}

// segment moves the rate linearly from from to to during dur (from == to: a constant stage).
type segment struct {
	from, to float64
	dur      time.Duration
}

// hits is the expected number of hits in the first u seconds of the segment.
func (s segment) hits(u float64) float64 {
	return s.from*u + (s.to-s.from)/(2*s.dur.Seconds())*u*u
}

func newPacer(st Stream, budget *atomic.Int64) *pacer {
	p := &pacer{hold: st.Rate, budget: budget}
	switch {
	case st.Ramp != nil:
		p.segs, p.hold = []segment{{st.Ramp.From, st.Ramp.To, st.Ramp.Over}}, st.Ramp.To
	case len(st.Stages) > 0:
		for _, sg := range st.Stages {
			p.segs = append(p.segs, segment{sg.Rate, sg.Rate, sg.For})
		}
		p.hold = st.Stages[len(st.Stages)-1].Rate
	}
	return p
}

// Pace implements vegeta.Pacer. vegeta calls it once per hit from one goroutine.
func (p *pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	p.mu.Lock()
	if p.began.IsZero() {
		p.began = time.Now().Add(-elapsed)
	}
	p.mu.Unlock()
	if p.budget.Add(-1) < 0 {
		return 0, true
	}
	next, ok := p.offset(hits)
	if !ok || (p.end > 0 && next >= p.end) {
		return 0, true
	}
	if wait := next - elapsed; wait > 0 {
		if p.wait == nil {
			return wait, false
		}
		p.wait.sleep(wait)
	}
	return 0, false
}

// Rate implements vegeta.Pacer: the instantaneous rate asked at elapsed.
func (p *pacer) Rate(elapsed time.Duration) float64 {
	var start time.Duration
	for _, s := range p.segs {
		if elapsed < start+s.dur {
			return s.from + (s.to-s.from)*(elapsed-start).Seconds()/s.dur.Seconds()
		}
		start += s.dur
	}
	return p.hold
}

// scheduled is the intended send time of hit n.
func (p *pacer) scheduled(n uint64) time.Time {
	p.mu.Lock()
	began := p.began
	p.mu.Unlock()
	off, _ := p.offset(n)
	return began.Add(off)
}

// offset is when hit n (0-based) is due: the time t at which the expected number of hits,
// the integral of the rate from 0 to t, reaches n. Hit 0 is due at once.
func (p *pacer) offset(n uint64) (time.Duration, bool) {
	x := float64(n)
	start := 0.0
	for _, s := range p.segs {
		secs := s.dur.Seconds()
		if secs <= 0 {
			continue
		}
		segHits := s.hits(secs)
		if x < segHits {
			a := (s.to - s.from) / (2 * secs) // hits(u) = from·u + a·u² within the segment
			var u float64
			if math.Abs(a) < 1e-12 {
				u = x / s.from
			} else {
				u = (-s.from + math.Sqrt(s.from*s.from+4*a*x)) / (2 * a)
			}
			return time.Duration((start + u) * float64(time.Second)), true
		}
		x -= segHits
		start += secs
	}
	if p.hold <= 0 {
		return 0, false
	}
	return time.Duration((start + x/p.hold) * float64(time.Second)), true
}

// hits is the number of requests the pacer asks for in the first d.
func (p *pacer) hits(d time.Duration) float64 {
	t, start, total := d.Seconds(), 0.0, 0.0
	for _, s := range p.segs {
		secs := s.dur.Seconds()
		if secs <= 0 {
			continue
		}
		if t <= start+secs {
			return total + s.hits(t-start)
		}
		total += s.hits(secs)
		start += secs
	}
	return total + p.hold*(t-start)
}

// Asked is how many requests the stream's schedule asks for in [from, to), offsets from its
// start: the expected count (the integral of its rate), not rounded.
func (st Stream) Asked(from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	p := newPacer(st, nil)
	return p.hits(to) - p.hits(max(from, 0))
}

// targeter builds each request of a stream. Codes are drawn from a generator seeded by the
// run seed and the stream name, so a seed replays the same mix.
type targeter struct {
	base *url.URL
	st   Stream

	mu  sync.Mutex
	rng *rand.Rand
	n   uint64
}

func newTargeter(base *url.URL, st Stream, seed int64) *targeter {
	h := fnv.New64a()
	h.Write([]byte(st.Name))
	return &targeter{base: base, st: st, rng: rand.New(rand.NewPCG(uint64(seed), h.Sum64()))}
}

// pick returns the next sequence number and code, in call order.
func (t *targeter) pick() (uint64, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	seq := t.n
	t.n++
	if len(t.st.Codes) == 0 {
		return seq, ""
	}
	return seq, t.st.Codes[t.rng.IntN(len(t.st.Codes))]
}

func (t *targeter) next(tgt *vegeta.Target) error {
	seq, code := t.pick()
	path := t.st.Path
	if code != "" {
		path = strings.ReplaceAll(path, "{code}", url.PathEscape(code))
	}
	tgt.Method = t.st.Method
	tgt.URL = strings.TrimSuffix(t.base.String(), "/") + path
	tgt.Body, tgt.Header = nil, nil
	if t.st.Body != "" {
		// vegeta numbers its results itself, in an order that may differ from ours under
		// concurrency; the fragment (never sent on the wire) carries our sequence number to
		// the result, so sent can tell which body this answer is for.
		tgt.URL += "#" + strconv.FormatUint(seq, 10)
		tgt.Body = []byte(renderBody(t.st.Body, seq))
		tgt.Header = http.Header{"Content-Type": []string{"application/json"}}
	}
	return nil
}

// sent recovers, from a result's method and URL, the code of a redirect and the URL a
// creation sent (the body of the sequence number in the fragment, rendered again).
func (t *targeter) sent(method, rawURL string) (clickCode, sentURL string) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", ""
	}
	clickCode = ClickCode(method, strings.TrimPrefix(u.Path, strings.TrimSuffix(t.base.Path, "/")))
	if t.st.Body != "" && u.Fragment != "" {
		if seq, err := strconv.ParseUint(u.Fragment, 10, 64); err == nil {
			sentURL = bodyURL(renderBody(t.st.Body, seq))
		}
	}
	return clickCode, sentURL
}

// ClickCode is the code a request redirects, when it is GET or HEAD /r/CODE (the gateway's
// redirect route answers HEAD like GET), else "".
func ClickCode(method, path string) string {
	if method != http.MethodGet && method != http.MethodHead {
		return ""
	}
	code, ok := strings.CutPrefix(path, "/r/")
	if !ok || code == "" || strings.Contains(code, "/") {
		return ""
	}
	return code
}

// bodyURL is the "url" field of a JSON body, "" when there is none.
func bodyURL(body string) string {
	var b struct {
		URL string `json:"url"`
	}
	if json.Unmarshal([]byte(body), &b) != nil {
		return ""
	}
	return b.URL
}

// renderBody fills <seq> and <n> (an account number 1..10, so quota is spread over accounts).
func renderBody(tmpl string, seq uint64) string {
	return strings.NewReplacer("<seq>", strconv.FormatUint(seq, 10), "<n>", strconv.FormatUint(seq%10+1, 10)).Replace(tmpl)
}

// CheckTarget parses a base URL and refuses hosts that are not loopback unless allowRemote.
// Names are resolved, and every address must be loopback (127.0.0.0/8, ::1).
func CheckTarget(ctx context.Context, target string, allowRemote bool) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("load: target %q: want a base URL such as http://127.0.0.1:8080", target)
	}
	if allowRemote {
		return u, nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: %s", ErrRemote, host)
		}
		return u, nil
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(rctx, host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("%w: cannot resolve %s: %v", ErrRemote, host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrRemote, host, a.IP)
		}
	}
	return u, nil
}
