// Package gameday drives a game day's load streams by hand, records everything the team did
// and saw into a run directory, and turns that record into a scenario CI can replay.
package gameday

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/load"
)

// Limits of a session.
const (
	MaxStreams = 8
	MaxSamples = 20_000_000 // beyond it samples are counted, not kept (a 2-hour day at 2,500/s)
	setupLinks = 50
)

// Errors callers branch on.
var (
	ErrInvalid = ledger.ErrInvalid // a bad stream or SLO: the caller's mistake
	ErrHalted  = ledger.ErrHalted
)

// StreamSpec asks for one load stream.
type StreamSpec struct {
	Name    string  `json:"name"`
	Request string  `json:"request"` // "GET /r/{code}"
	Rate    float64 `json:"rate"`    // per second
}

// RateChange is a stream's rate from AtS on (seconds from the session start; 0 = stopped).
type RateChange struct {
	AtS  float64 `json:"at_s"`
	Rate float64 `json:"rate"`
}

// StreamRecord is one stream's history.
type StreamRecord struct {
	Name    string       `json:"name"`
	Request string       `json:"request"`
	Changes []RateChange `json:"changes"`
}

// SLOSpec is a service level objective the team set for a stream during the game day.
type SLOSpec struct {
	Load       string   `json:"load"`
	Phases     []string `json:"phases,omitempty"` // default baseline, fault, recovery
	Thresholds []string `json:"thresholds"`
}

// Options configure a Session.
type Options struct {
	Gateway string         // base URL the load goes to
	Ledger  *ledger.Ledger // the lab's ledger: the halt stops the load, changes go on its timeline
	Seed    int64
	Profile string
	// Codes, when set, feed {code} streams instead of creating links through the gateway.
	Codes []string
	// Generator is the faultline binary each stream's load generator process runs from
	// (load.GeneratorBinary); empty: the streams are sent from this process, which shares its
	// cores' time with Toxiproxy and the span receiver (docs/results.md "Where the load is
	// sent from").
	Generator string
}

// Session is one game day's load and record. Its methods are safe for concurrent use.
type Session struct {
	o     Options
	start time.Time
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu      sync.Mutex
	streams map[string]*stream
	order   []string
	codes   []string
	samples []reports.Sample
	dropped int
	live    *window
	slos    []SLOSpec
	closed  bool
}

type stream struct {
	spec    StreamSpec
	method  string
	path    string
	cancel  context.CancelFunc // nil when stopped
	done    chan struct{}
	changes []RateChange
}

// New starts a session: the clock of the record starts now, and a halt stops every stream.
func New(o Options) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{o: o, start: time.Now(), ctx: ctx, stop: cancel, streams: map[string]*stream{}, codes: o.Codes, live: newWindow(300)}
	if o.Ledger != nil {
		o.Ledger.OnHalt(func(context.Context) { s.StopAll("halt") })
	}
	return s
}

// Start returns when the record began.
func (s *Session) Start() time.Time { return s.start }

func (s *Session) since() float64 { return time.Since(s.start).Seconds() }

// StartStream starts a stream, or changes the rate of a running one of the same name.
func (s *Session) StartStream(spec StreamSpec, who string) error {
	spec.Name = strings.TrimSpace(spec.Name)
	if spec.Name == "" || len(spec.Name) > 63 || strings.ContainsAny(spec.Name, " \t\n\"'<>&") {
		return ledger.Invalid(fmt.Sprintf("stream name %q: want 1 to 63 characters, no spaces or quotes", spec.Name))
	}
	if !(spec.Rate > 0 && spec.Rate <= scenarios.MaxRate) {
		return ledger.Invalid(fmt.Sprintf("stream %s: rate %v: want > 0 and at most %d/s", spec.Name, spec.Rate, scenarios.MaxRate))
	}
	method, path, err := scenarios.ParseRequest(spec.Request)
	if err != nil {
		return ledger.Invalid(fmt.Sprintf("stream %s: request: %v", spec.Name, err))
	}
	if s.o.Ledger != nil && s.o.Ledger.Halted() {
		return ErrHalted
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("gameday: session closed")
	}
	st := s.streams[spec.Name]
	if st == nil && len(s.streams) >= MaxStreams {
		s.mu.Unlock()
		return ledger.Invalid(fmt.Sprintf("stream %s: at most %d streams", spec.Name, MaxStreams))
	}
	if st != nil && (st.method != method || st.path != path) {
		s.mu.Unlock()
		return ledger.Invalid(fmt.Sprintf("stream %s already sends %s %s: pick another name", spec.Name, st.method, st.path))
	}
	if st == nil {
		st = &stream{spec: spec, method: method, path: path}
		s.streams[spec.Name] = st
		s.order = append(s.order, spec.Name)
	}
	s.mu.Unlock()
	if strings.Contains(path, "{code}") {
		if err := s.ensureCodes(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(st)
	st.spec.Rate = spec.Rate
	st.changes = append(st.changes, RateChange{AtS: round3(s.since()), Rate: spec.Rate})
	ctx, cancel := context.WithCancel(s.ctx)
	st.cancel, st.done = cancel, make(chan struct{})
	ls := load.Stream{Name: st.spec.Name, Method: method, Path: path, Rate: spec.Rate}
	if strings.Contains(path, "{code}") {
		ls.Codes = s.codes
	}
	if method == "POST" || method == "PUT" || method == "PATCH" {
		ls.Body = `{"url": "https://example.com/gameday/<seq>", "account": "acct-<n>"}`
	}
	s.wg.Add(1)
	go func(done chan struct{}) {
		defer s.wg.Done()
		defer close(done)
		// The day has no fixed end: the stream runs until stopped, re-rated or the session ends.
		if err := s.send(ctx, ls); err != nil && ctx.Err() == nil {
			s.log("lab", fmt.Sprintf("stream %s stopped by the load generator: %v", ls.Name, err))
		}
	}(st.done)
	s.log(who, fmt.Sprintf("stream %s: %s %s at %g/s", spec.Name, method, path, spec.Rate))
	return nil
}

// send sends one stream until ctx ends (a stop, a re-rate, the session's end).
func (s *Session) send(ctx context.Context, ls load.Stream) error {
	run, stop, err := load.Start(ctx, s.o.Generator, s.o.Gateway, []load.Stream{ls}, 24*time.Hour, load.Options{Seed: s.o.Seed})
	if err != nil {
		return err
	}
	defer stop()
	return run(ctx, nil, s.add)
}

// ensureCodes creates the links {code} streams draw from, once.
func (s *Session) ensureCodes() error {
	s.mu.Lock()
	have := len(s.codes) > 0
	s.mu.Unlock()
	if have {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	res, err := load.Setup(ctx, s.o.Gateway, setupLinks, load.SetupOptions{Seed: s.o.Seed})
	if err != nil {
		return fmt.Errorf("gameday: creating links for {code}: %w", err)
	}
	s.mu.Lock()
	if len(s.codes) == 0 {
		s.codes = res.Codes()
	}
	s.mu.Unlock()
	return nil
}

// StopStream stops one stream (it keeps its name and history).
func (s *Session) StopStream(name, who string) error {
	s.mu.Lock()
	st := s.streams[name]
	if st == nil {
		s.mu.Unlock()
		return ledger.Invalid(fmt.Sprintf("no stream %q", name))
	}
	was := st.cancel != nil
	s.stopLocked(st)
	if was {
		st.changes = append(st.changes, RateChange{AtS: round3(s.since()), Rate: 0})
	}
	s.mu.Unlock()
	if was {
		s.log(who, "stream "+name+" stopped")
	}
	return nil
}

// StopAll stops every stream (the halt does).
func (s *Session) StopAll(who string) {
	s.mu.Lock()
	names := append([]string(nil), s.order...)
	s.mu.Unlock()
	for _, n := range names {
		_ = s.StopStream(n, who)
	}
}

// stopLocked cancels a running stream and waits for its last results.
func (s *Session) stopLocked(st *stream) {
	if st.cancel == nil {
		return
	}
	st.cancel()
	done := st.done
	st.cancel, st.done = nil, nil
	s.mu.Unlock()
	<-done
	s.mu.Lock()
}

func (s *Session) add(r load.Result) {
	smp := r.Sample(s.start)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live.add(smp)
	if len(s.samples) >= MaxSamples {
		s.dropped++
		return
	}
	s.samples = append(s.samples, smp)
}

func (s *Session) log(who, text string) {
	if s.o.Ledger != nil {
		s.o.Ledger.Log(ledger.Event{Kind: ledger.KindLoad, Who: who, Text: text})
	}
}

// SetSLOs replaces the team's SLOs; each threshold is checked with the scenario grammar.
func (s *Session) SetSLOs(slos []SLOSpec, who string) error {
	for i, slo := range slos {
		if strings.TrimSpace(slo.Load) == "" {
			return ledger.Invalid(fmt.Sprintf("slos[%d]: load: missing stream name", i))
		}
		if len(slo.Thresholds) == 0 {
			return ledger.Invalid(fmt.Sprintf("slos[%d]: thresholds: at least one, such as p(99)<50ms", i))
		}
		for j, t := range slo.Thresholds {
			if _, err := verdict.ParseThreshold(t); err != nil {
				return ledger.Invalid(fmt.Sprintf("slos[%d].thresholds[%d]: %v", i, j, err))
			}
		}
		for j, p := range slo.Phases {
			if !slicesContains(phaseNames, p) {
				return ledger.Invalid(fmt.Sprintf("slos[%d].phases[%d]: %q: want one of %s", i, j, p, strings.Join(phaseNames, ", ")))
			}
		}
	}
	s.mu.Lock()
	s.slos = append([]SLOSpec(nil), slos...)
	s.mu.Unlock()
	var parts []string
	for _, slo := range slos {
		parts = append(parts, slo.Load+": "+strings.Join(slo.Thresholds, ", "))
	}
	s.log(who, "SLOs set: "+orNone(strings.Join(parts, "; ")))
	return nil
}

var phaseNames = []string{reports.PhaseBaseline, reports.PhaseFault, reports.PhaseBetween, reports.PhaseRecovery, reports.PhaseAll}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// StreamView is one stream as the console shows it.
type StreamView struct {
	Name    string   `json:"name"`
	Request string   `json:"request"`
	Rate    float64  `json:"rate"`
	Running bool     `json:"running"`
	Series  []Bucket `json:"series"` // one per second, oldest first
}

// View returns every stream with its last secs seconds of figures, at now.
func (s *Session) View(now time.Time, secs int) ([]StreamView, []SLOSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StreamView, 0, len(s.order))
	nowS := int64(now.Sub(s.start) / time.Second)
	for _, n := range s.order {
		st := s.streams[n]
		out = append(out, StreamView{Name: n, Request: st.method + " " + st.path, Rate: st.spec.Rate, Running: st.cancel != nil,
			Series: s.live.series(n, nowS-int64(secs), nowS)})
	}
	return out, append([]SLOSpec(nil), s.slos...)
}

// records returns each stream's history, sorted by name.
func (s *Session) records() []StreamRecord {
	var out []StreamRecord
	for _, n := range s.order {
		st := s.streams[n]
		out = append(out, StreamRecord{Name: n, Request: st.method + " " + st.path, Changes: append([]RateChange(nil), st.changes...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
