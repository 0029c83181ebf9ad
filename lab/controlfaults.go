package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/faultline/faultline/lab/ledger"
)

// The fault routes of the control API. Faults applied here are recorded in the lab's ledger,
// so a HALT (from any console or `faultline halt`) heals them and blocks new ones for every
// client, and the game day's timeline knows who did what when:
//
//	GET  /faults?since=N        ledger snapshot and the timeline events after the first N
//	POST /faults                inject (a ledger.Request as JSON); 409 while halted
//	POST /faults/{id}/heal      heal one recorded fault
//	POST /halt?who=NAME         heal everything, stop the load, block injects
//	POST /release?who=NAME      lift the halt
//	POST /heartbeat             keep console-injected faults alive (dead-man switch)

// maxRequestBody bounds a JSON body on the control and console APIs.
const maxRequestBody = 64 << 10

// Ledger returns the lab's record of hand-made faults, halt and timeline.
func (l *Lab) Ledger() *ledger.Ledger { return l.ledger }

func (l *Lab) startLedger() {
	l.ledger = ledger.New(l.Env(), ledger.Options{Heal: l.Heal, Deadman: l.o.Deadman})
	ctx, cancel := context.WithCancel(context.Background())
	l.ledgerStop, l.ledgerDone = cancel, make(chan struct{})
	go func() {
		defer close(l.ledgerDone)
		l.ledger.Run(ctx, 250*time.Millisecond)
	}()
}

func (l *Lab) stopLedger() {
	if l.ledgerStop != nil {
		l.ledgerStop()
		<-l.ledgerDone
	}
}

// FaultsReply is GET /faults.
type FaultsReply struct {
	ledger.Snapshot
	Timeline []ledger.Event `json:"timeline"`
}

func (l *Lab) faultRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.Atoi(r.URL.Query().Get("since"))
		writeJSON(w, http.StatusOK, FaultsReply{Snapshot: l.ledger.Snapshot(), Timeline: l.ledger.Events(since)})
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var req ledger.Request
		if err := DecodeJSON(r, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		l.logf("lab: control: inject %s on %s by %s (%s)", req.Fault, req.Target, orDefault(req.Who, "?"), orDefault(req.Source, ledger.SourceCLI))
		f, err := l.ledger.Inject(ctx, req)
		if err != nil {
			WriteLedgerError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("POST /faults/{id}/heal", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("lab: fault id %q: want a number", r.PathValue("id"))})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		if err := l.ledger.HealID(ctx, id, r.URL.Query().Get("who")); err != nil && !errors.Is(err, ledger.ErrNotFound) {
			WriteLedgerError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) // gone already is healed
	})
	mux.HandleFunc("POST /halt", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		who := r.URL.Query().Get("who")
		l.logf("lab: control: HALT by %s", orDefault(who, "?"))
		if err := l.ledger.Halt(ctx, who); err != nil {
			WriteLedgerError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true, "halted": true})
	})
	mux.HandleFunc("POST /release", func(w http.ResponseWriter, r *http.Request) {
		l.logf("lab: control: halt released by %s", orDefault(r.URL.Query().Get("who"), "?"))
		l.ledger.Release(r.URL.Query().Get("who"))
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true, "halted": false})
	})
	mux.HandleFunc("POST /heartbeat", func(w http.ResponseWriter, r *http.Request) {
		l.ledger.Beat()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

// DecodeJSON reads a bounded JSON body into v, refusing unknown fields and trailing data.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("lab: request body: %w", err)
	}
	if dec.More() {
		return errors.New("lab: request body: more than one JSON value")
	}
	return nil
}

// WriteLedgerError maps a ledger error to its HTTP status: the one place that does.
func WriteLedgerError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ledger.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, ledger.ErrHalted):
		code = http.StatusConflict
	case errors.Is(err, ledger.ErrNotFound), errors.Is(err, ErrUnknownTarget):
		code = http.StatusNotFound
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// WriteJSON writes v with status code as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) { writeJSON(w, code, v) }

// Guard wraps a handler served on addr with the control API's checks: Host, Origin, and the
// lab token on every request that is not GET or HEAD (see controlGuard).
func Guard(addr, token string, next http.Handler) http.Handler {
	return controlGuard(addr, token, next)
}

// Token returns the lab's control token (the console is opened with it).
func (l *Lab) Token() string { return l.token }

// Inject asks the lab to apply and record a fault.
func (r *Remote) Inject(ctx context.Context, req ledger.Request) (ledger.Fault, error) {
	var f ledger.Fault
	err := r.callBody(ctx, "/faults", req, &f)
	return f, err
}

// HealFault heals one recorded fault; one already gone is not an error.
func (r *Remote) HealFault(ctx context.Context, id int, who string) error {
	return r.callBody(ctx, "/faults/"+strconv.Itoa(id)+"/heal?who="+url.QueryEscape(who), nil, nil)
}

// Halt heals everything, stops the load and blocks injects until Release.
func (r *Remote) Halt(ctx context.Context, who string) error {
	return r.callBody(ctx, "/halt?who="+url.QueryEscape(who), nil, nil)
}

// Release lifts a halt.
func (r *Remote) Release(ctx context.Context, who string) error {
	return r.callBody(ctx, "/release?who="+url.QueryEscape(who), nil, nil)
}

// Heartbeat keeps console-injected faults alive.
func (r *Remote) Heartbeat(ctx context.Context) error { return r.callBody(ctx, "/heartbeat", nil, nil) }

// Faults reads the ledger and the timeline.
func (r *Remote) Faults(ctx context.Context) (FaultsReply, error) {
	var out FaultsReply
	err := r.call(ctx, http.MethodGet, "/faults", &out)
	return out, err
}

// callBody POSTs body (nil = none) as JSON and decodes the answer into out.
func (r *Remote) callBody(ctx context.Context, path string, body, out any) error {
	b, status, msg, err := r.do(ctx, http.MethodPost, path, true, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		switch status {
		case http.StatusConflict:
			return fmt.Errorf("%w (%s)", ledger.ErrHalted, msg)
		case http.StatusBadRequest:
			return ledger.Invalid(msg)
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s", ErrUnknownTarget, msg)
		}
		return fmt.Errorf("lab: control %s: %d %s: %s", path, status, http.StatusText(status), msg)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
