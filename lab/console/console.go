// Package console serves the game-day console: a live web page of the running lab (service
// map, breakers, load streams, faults, timeline) with its controls (inject, heal, HALT, load,
// notes, SLOs), every asset embedded, on loopback behind the lab's token.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/scenarios/gameday"
	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

//go:embed assets
var assets embed.FS

// Options configure a console.
type Options struct {
	Addr    string // listen address, loopback only; "" = 127.0.0.1 on a free port
	Token   string // the lab's token: every POST needs it
	Ledger  *ledger.Ledger
	Session *gameday.Session // the game day's load; nil = no load controls
	// Streams shows load the console does not drive (a scenario run's), when Session is nil.
	Streams func(now time.Time, secs int) ([]gameday.StreamView, []gameday.SLOSpec)
	// Start is the clock's zero (a run's load start); default the Session's start, else now.
	Start time.Time
	// Spans returns every span received so far (the lab's OTLP receiver): the map, its
	// breaker states and bulkhead rejections are learned from them. nil = no map.
	Spans func() []traces.Span
	// Status returns each component's state (ready, crashed, paused…); nil = unknown.
	Status func(ctx context.Context) map[string]string
	Tick   time.Duration // refresh period (default 1s)
	Window time.Duration // how far back the map's figures look (default 5s: "now", and half the spans to index of 10s)
}

// ErrNotLoopback is returned by Start for an address other than loopback.
var ErrNotLoopback = errors.New("console: listen address is not loopback")

// CheckAddr says whether a console may listen on addr: host:port on loopback only.
func CheckAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("console: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%w: %s", ErrNotLoopback, addr)
	}
	return nil
}

// Server is a running console.
type Server struct {
	o    Options
	url  string
	srv  *http.Server
	done chan struct{}
	live *live

	stop     context.CancelFunc
	loopDone chan struct{}
}

// Start listens and serves until Close.
func Start(o Options) (*Server, error) {
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Window <= 0 {
		o.Window = 5 * time.Second
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if err := CheckAddr(o.Addr); err != nil {
		return nil, err
	}
	if o.Token == "" || o.Ledger == nil {
		return nil, errors.New("console: a token and the lab's ledger are required")
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s := &Server{o: o, done: make(chan struct{}), loopDone: make(chan struct{})}
	s.live = newLive(o)
	// Whatever changes the ledger — the CLI, another console, the dead-man switch — is on the
	// page at once, not at the next tick (a CLI inject took up to 1,045 ms to show otherwise).
	o.Ledger.OnChange(s.live.poke)
	addr := ln.Addr().String()
	s.url = "http://" + addr
	s.srv = &http.Server{Handler: lab.Guard(addr, o.Token, s.routes()), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() {
		defer close(s.loopDone)
		s.live.run(ctx, o.Tick)
	}()
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// URL is the console's address with the token, to open in a browser (the page keeps the
// token and removes it from the address bar).
func (s *Server) URL() string { return s.url + "/?token=" + url.QueryEscape(s.o.Token) }

// Base is the console's address without the token.
func (s *Server) Base() string { return s.url }

// Close stops the refresh loop, ends every live stream and shuts the server down.
func (s *Server) Close(ctx context.Context) error {
	s.stop()
	<-s.loopDone
	s.live.closeSubscribers()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.Handle("GET /", securityHeaders(files))
	mux.HandleFunc("GET /api/catalog", s.catalog)
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		lab.WriteJSON(w, http.StatusOK, s.live.fresh(r.Context()))
	})
	mux.HandleFunc("GET /api/events", s.events)
	mux.HandleFunc("POST /api/faults", s.inject)
	mux.HandleFunc("POST /api/faults/{id}/heal", s.healOne)
	mux.HandleFunc("POST /api/heal", s.heal)
	mux.HandleFunc("POST /api/halt", s.halt)
	mux.HandleFunc("POST /api/release", func(w http.ResponseWriter, r *http.Request) {
		s.o.Ledger.Release(who(r))
		s.live.poke()
		lab.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /api/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		s.o.Ledger.Beat()
		lab.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /api/notes", s.note)
	mux.HandleFunc("POST /api/load", s.loadStart)
	mux.HandleFunc("POST /api/load/{name}/stop", s.loadStop)
	mux.HandleFunc("POST /api/slos", s.setSLOs)
	return mux
}

// securityHeaders: the page may load nothing but its own files and talk only to its server;
// no other site may frame it (a framed HALT button could be clicked by a trick).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // the first URL carries the token
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// Catalog is what the forms are built from: the fault types' own parameters, the edges and
// components, the phases an SLO can name.
type Catalog struct {
	Faults     []FaultType `json:"faults"`
	Edges      []string    `json:"edges"`
	Components []string    `json:"components"`
	Phases     []string    `json:"phases"`
	Load       bool        `json:"load"` // load controls available
	// Run: the load is a scenario run's (faultline run --console): shown, not controlled.
	Run bool `json:"run,omitempty"`
}

// FaultType is one registered fault.
type FaultType struct {
	Name   string         `json:"name"`
	Kind   toxics.Kind    `json:"kind"`
	Params []toxics.Param `json:"params"`
}

func catalog() Catalog {
	c := Catalog{Edges: topology.EdgeNames(), Components: topology.Components(), Phases: []string{"baseline", "fault", "between", "recovery", "all"}}
	for _, n := range toxics.Names() {
		f, err := toxics.Lookup(n)
		if err != nil {
			continue
		}
		c.Faults = append(c.Faults, FaultType{Name: n, Kind: f.Kind(), Params: toxics.Describe(f)})
	}
	return c
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	c := catalog()
	c.Load = s.o.Session != nil
	c.Run = s.o.Session == nil && s.o.Streams != nil
	lab.WriteJSON(w, http.StatusOK, c)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "console: streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	ch, cancel := s.live.subscribe()
	defer cancel()
	for {
		select {
		case <-r.Context().Done():
			return
		case b, ok := <-ch:
			if !ok {
				return
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// who names the person acting, from the page's "who" field.
func who(r *http.Request) string {
	w := r.URL.Query().Get("who")
	if len(w) > 60 {
		w = w[:60]
	}
	if w == "" {
		w = "someone"
	}
	return w + " (console)"
}

func (s *Server) inject(w http.ResponseWriter, r *http.Request) {
	var req ledger.Request
	if err := lab.DecodeJSON(r, &req); err != nil {
		lab.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	req.Who, req.Source = who(r), ledger.SourceConsole
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	f, err := s.o.Ledger.Inject(ctx, req)
	s.live.poke()
	if err != nil {
		lab.WriteLedgerError(w, err)
		return
	}
	lab.WriteJSON(w, http.StatusOK, f)
}

func (s *Server) healOne(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		lab.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "console: fault id must be a number"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	err = s.o.Ledger.HealID(ctx, id, who(r))
	s.live.poke()
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		lab.WriteLedgerError(w, err)
		return
	}
	lab.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) heal(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("target")
	if target != "" && !topology.IsEdge(target) && !topology.IsComponent(target) {
		lab.WriteJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("console: %q is neither an edge nor a component", target)})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	err := s.o.Ledger.Heal(ctx, target, who(r))
	s.live.poke()
	if err != nil {
		lab.WriteLedgerError(w, err)
		return
	}
	lab.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) halt(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	err := s.o.Ledger.Halt(ctx, who(r))
	s.live.poke()
	if err != nil {
		lab.WriteLedgerError(w, err)
		return
	}
	lab.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true, "halted": true})
}

func (s *Server) note(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text string `json:"text"`
	}
	if err := lab.DecodeJSON(r, &body); err != nil {
		lab.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	e, err := s.o.Ledger.Note(who(r), body.Text)
	s.live.poke()
	if err != nil {
		lab.WriteLedgerError(w, err)
		return
	}
	lab.WriteJSON(w, http.StatusOK, e)
}

var errNoLoad = ledger.Invalid("console: no load controls here (this console watches a scenario run)")

func (s *Server) loadStart(w http.ResponseWriter, r *http.Request) {
	if s.o.Session == nil {
		lab.WriteLedgerError(w, errNoLoad)
		return
	}
	var spec gameday.StreamSpec
	if err := lab.DecodeJSON(r, &spec); err != nil {
		lab.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	err := s.o.Session.StartStream(spec, who(r))
	s.live.poke()
	if err != nil {
		lab.WriteLedgerError(w, err)
		return
	}
	lab.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) loadStop(w http.ResponseWriter, r *http.Request) {
	if s.o.Session == nil {
		lab.WriteLedgerError(w, errNoLoad)
		return
	}
	err := s.o.Session.StopStream(r.PathValue("name"), who(r))
	s.live.poke()
	if err != nil {
		lab.WriteLedgerError(w, err)
		return
	}
	lab.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) setSLOs(w http.ResponseWriter, r *http.Request) {
	if s.o.Session == nil {
		lab.WriteLedgerError(w, errNoLoad)
		return
	}
	var slos []gameday.SLOSpec
	if err := lab.DecodeJSON(r, &slos); err != nil {
		lab.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	err := s.o.Session.SetSLOs(slos, who(r))
	s.live.poke()
	if err != nil {
		lab.WriteLedgerError(w, err)
		return
	}
	lab.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
