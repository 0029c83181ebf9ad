package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// Status is a snapshot of a lab: every component's process and health, every edge's toxics.
type Status struct {
	Pid        int               `json:"pid"`
	Uptime     string            `json:"uptime"`
	Dir        string            `json:"dir"`
	Profile    string            `json:"profile"`
	Endpoints  map[string]string `json:"endpoints"`
	Components []ComponentStatus `json:"components"`
	Edges      []EdgeStatus      `json:"edges"`
}

// ComponentStatus is one component.
type ComponentStatus struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Pid    int    `json:"pid"`
	State  string `json:"state"` // ready, unready, paused, crashed, not started
	Detail string `json:"detail,omitempty"`
	Direct string `json:"direct"`
	CPU    string `json:"cpu,omitempty"` // the cpu fault in force: "10% (cgroup)"
}

// EdgeStatus is one edge's proxy.
type EdgeStatus struct {
	Name    string   `json:"name"`
	Listen  string   `json:"listen"`
	Enabled bool     `json:"enabled"`
	Toxics  []string `json:"toxics,omitempty"` // "type/stream name toxicity attrs"
}

// Status reports every component and edge; health probes are bounded by ctx and 500 ms each.
func (l *Lab) Status(ctx context.Context) Status {
	st := Status{Pid: os.Getpid(), Uptime: time.Since(l.started).Round(time.Second).String(), Dir: l.dir, Profile: l.o.Profile, Endpoints: l.Endpoints()}
	st.Components = make([]ComponentStatus, len(topology.Components()))
	var wg sync.WaitGroup
	for i, name := range topology.Components() {
		cs := ComponentStatus{Name: name, Kind: topology.KindOf(name), State: "not started", Direct: l.Direct(name)}
		st.Components[i] = cs
		s := l.proc(name)
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs.Pid = s.Pid()
			switch {
			case !s.Running():
				cs.State = "crashed"
			case s.Paused():
				cs.State = "paused"
			default:
				pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				if err := s.Probe(pctx); err != nil {
					cs.State, cs.Detail = "unready", err.Error()
				} else {
					cs.State = "ready"
				}
				cancel()
			}
			cs.CPU = l.cpuLimit(name)
			st.Components[i] = cs
		}()
	}
	wg.Wait()
	st.Edges = edgeStatus(l.toxi)
	return st
}

func edgeStatus(c *toxiclient.Client) []EdgeStatus {
	var out []EdgeStatus
	proxies, err := c.Proxies()
	for _, e := range topology.Edges() {
		es := EdgeStatus{Name: e.Name}
		if p, ok := proxies[e.Name]; ok && err == nil {
			es.Listen, es.Enabled = p.Listen, p.Enabled
			for _, t := range p.ActiveToxics {
				attrs, _ := json.Marshal(t.Attributes)
				es.Toxics = append(es.Toxics, fmt.Sprintf("%s/%s %s toxicity=%g %s", t.Type, t.Stream, t.Name, t.Toxicity, attrs))
			}
		}
		out = append(out, es)
	}
	return out
}

// startControl serves the lab's control API on loopback, so another shell can drive process
// faults (which need the lab, the parent of every process) and read status:
//
//	GET  /status                         Status as JSON
//	POST /components/{name}/{action}     action = kill | start | pause | resume
//	POST /heal?target=NAME               heal one edge or component; no target = everything
//
// Every POST needs the token of the state file; see controlGuard.
func (l *Lab) startControl() error {
	ln, err := net.Listen("tcp", hostPort(l.ports["control"]))
	if err != nil {
		// The port picked earlier was taken meanwhile: any port will do.
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("lab: control: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, l.Status(r.Context()))
	})
	mux.HandleFunc("POST /components/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		c, err := l.Env().Component(r.PathValue("name"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		// A game day needs a record of who did what when: every action goes to the lab's log.
		l.logf("lab: control: %s %s (from %s)", r.PathValue("action"), r.PathValue("name"), r.RemoteAddr)
		switch r.PathValue("action") {
		case "kill":
			err = c.Kill(ctx)
		case "start":
			err = c.Start(ctx)
		case "pause":
			err = c.Pause(ctx)
		case "resume":
			err = c.Resume(ctx)
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "action must be kill, start, pause or resume"})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "running": c.Running()})
	})
	mux.HandleFunc("POST /heal", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		target := r.URL.Query().Get("target")
		l.logf("lab: control: heal %s", orDefault(target, "everything"))
		if target != "" && !topology.IsEdge(target) && !topology.IsComponent(target) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("%v: %q", ErrUnknownTarget, target)})
			return
		}
		err := l.ledger.Heal(ctx, target, r.URL.Query().Get("who"))
		switch {
		case errors.Is(err, ErrUnknownTarget):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		}
	})
	l.faultRoutes(mux)
	l.ctl = &http.Server{Handler: controlGuard(ln.Addr().String(), l.token, mux), ReadHeaderTimeout: 5 * time.Second}
	l.ctlURL = "http://" + ln.Addr().String()
	l.ctlDone = make(chan struct{})
	go func() {
		defer close(l.ctlDone)
		_ = l.ctl.Serve(ln)
	}()
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Remote is a running lab seen from another process, found through its state file.
type Remote struct {
	State State
	toxi  *toxiclient.Client
	http  *http.Client
}

// ErrNoLab is returned by Attach when no running lab is found.
var ErrNoLab = errors.New("lab: no running lab found (start one with `faultline up`)")

// Attach finds a running lab: selector is a state file path, a lab pid, or "" for the most
// recently started live lab in stateDir.
func Attach(stateDir, selector string) (*Remote, error) {
	if stateDir == "" {
		stateDir = DefaultStateDir()
	}
	var st State
	switch {
	case selector == "":
		labs := Running(stateDir)
		if len(labs) == 0 {
			return nil, fmt.Errorf("%w in %s", ErrNoLab, stateDir)
		}
		st = labs[0]
	case strings.HasSuffix(selector, ".json"):
		var err error
		if st, err = ReadState(selector); err != nil {
			return nil, err
		}
	default:
		pid, err := strconv.Atoi(selector)
		if err != nil {
			return nil, fmt.Errorf("lab: --lab %q: want a pid or a state file", selector)
		}
		for _, s := range Running(stateDir) {
			if s.Pid == pid {
				st = s
			}
		}
		if st.Pid == 0 {
			return nil, fmt.Errorf("%w with pid %d in %s", ErrNoLab, pid, stateDir)
		}
	}
	if !st.Alive() {
		return nil, fmt.Errorf("%w: lab pid %d is gone", ErrNoLab, st.Pid)
	}
	if st.Control == "" || st.Toxiproxy == "" {
		return nil, fmt.Errorf("%w: lab pid %d is still starting", ErrNoLab, st.Pid)
	}
	return &Remote{State: st, toxi: toxiclient.NewClient(st.Toxiproxy), http: &http.Client{Timeout: 2 * time.Minute}}, nil
}

func (r *Remote) call(ctx context.Context, method, path string, out any) error {
	b, status, msg, err := r.do(ctx, method, path, false, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		if status == http.StatusNotFound {
			return fmt.Errorf("%w: %s", ErrUnknownTarget, msg)
		}
		return fmt.Errorf("lab: control %s: %d %s: %s", path, status, http.StatusText(status), msg)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// do sends one control request with the lab's token — with asJSON, as JSON with body (nil:
// empty) — and returns the answer's body, status and, for an error status, its message.
func (r *Remote) do(ctx context.Context, method, path string, asJSON bool, body any) (b []byte, status int, msg string, err error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, 0, "", err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.State.Control+path, rd)
	if err != nil {
		return nil, 0, "", err
	}
	if asJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.State.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.State.Token)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, 0, "", fmt.Errorf("lab: control %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		msg = e.Error
	}
	return b, resp.StatusCode, msg, nil
}

// Status asks the lab for its status.
func (r *Remote) Status(ctx context.Context) (Status, error) {
	var st Status
	err := r.call(ctx, http.MethodGet, "/status", &st)
	return st, err
}

// Heal heals one edge or component, or everything when target is "".
func (r *Remote) Heal(ctx context.Context, target string) error {
	return r.call(ctx, http.MethodPost, "/heal?target="+url.QueryEscape(target), nil)
}

// Env is a toxics.Env on the remote lab: network faults go straight to its Toxiproxy,
// process faults through its control API.
func (r *Remote) Env() toxics.Env { return remoteEnv{r} }

type remoteEnv struct{ r *Remote }

func (e remoteEnv) Proxy(edge string) (*toxiclient.Proxy, error) {
	if !topology.IsEdge(edge) {
		return nil, fmt.Errorf("%w: edge %q", ErrUnknownTarget, edge)
	}
	return e.r.toxi.Proxy(edge)
}

func (e remoteEnv) Component(name string) (toxics.Controller, error) {
	if !topology.IsComponent(name) {
		return nil, fmt.Errorf("%w: component %q", ErrUnknownTarget, name)
	}
	return remoteController{e.r, name}, nil
}

type remoteController struct {
	r    *Remote
	name string
}

func (c remoteController) act(ctx context.Context, action string) error {
	return c.r.call(ctx, http.MethodPost, "/components/"+url.PathEscape(c.name)+"/"+action, nil)
}
func (c remoteController) Kill(ctx context.Context) error   { return c.act(ctx, "kill") }
func (c remoteController) Start(ctx context.Context) error  { return c.act(ctx, "start") }
func (c remoteController) Pause(ctx context.Context) error  { return c.act(ctx, "pause") }
func (c remoteController) Resume(ctx context.Context) error { return c.act(ctx, "resume") }
func (c remoteController) Running() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := c.r.Status(ctx)
	if err != nil {
		return false
	}
	for _, cs := range st.Components {
		if cs.Name == c.name {
			return cs.State != "crashed" && cs.State != "not started"
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
