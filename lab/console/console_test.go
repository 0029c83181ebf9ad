package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/toxics"
)

type fakeEnv struct {
	mu     sync.Mutex
	paused map[string]bool
	gate   chan struct{} // when set, a resume waits for it to close (a slow heal)
}

func (e *fakeEnv) Proxy(string) (*toxiclient.Proxy, error) {
	return nil, errors.New("fake: no proxies")
}
func (e *fakeEnv) Component(n string) (toxics.Controller, error) { return fakeCtl{e, n}, nil }
func (e *fakeEnv) isPaused(n string) bool                        { e.mu.Lock(); defer e.mu.Unlock(); return e.paused[n] }
func (c fakeCtl) set(v bool) error                               { c.e.mu.Lock(); c.e.paused[c.n] = v; c.e.mu.Unlock(); return nil }
func (c fakeCtl) Kill(context.Context) error                     { return nil }
func (c fakeCtl) Start(context.Context) error                    { return nil }
func (c fakeCtl) Pause(context.Context) error                    { return c.set(true) }
func (c fakeCtl) Resume(context.Context) error {
	if c.e.gate != nil {
		<-c.e.gate
	}
	return c.set(false)
}
func (c fakeCtl) Running() bool { return true }

type fakeCtl struct {
	e *fakeEnv
	n string
}

const token = "0123456789abcdef0123456789abcdef"

func startTest(t *testing.T, deadman time.Duration) (*Server, *fakeEnv, *ledger.Ledger) {
	t.Helper()
	env := &fakeEnv{paused: map[string]bool{}}
	led := ledger.New(env, ledger.Options{Deadman: deadman})
	ctx, cancel := context.WithCancel(context.Background())
	go led.Run(ctx, 50*time.Millisecond)
	s, err := Start(Options{Token: token, Ledger: led, Tick: 100 * time.Millisecond,
		Spans: nil})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s, env, led
}

func do(t *testing.T, s *Server, method, path, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.Base()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

var auth = map[string]string{"Authorization": "Bearer " + token}

// TestConsoleGuard: every state-changing request needs the token; a foreign Origin (another
// site's page) or Host (a DNS-rebinding name) gets nothing, not even the state; the page's own
// origin with the token works.
func TestConsoleGuard(t *testing.T) {
	s, env, _ := startTest(t, 0)
	host := strings.TrimPrefix(s.Base(), "http://")
	inject := `{"fault":"pause","target":"billing"}`
	for _, c := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		want                     int
	}{
		{"no token", "POST", "/api/faults", inject, nil, 401},
		{"wrong token", "POST", "/api/halt", "", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"other site", "POST", "/api/faults", inject, map[string]string{"Authorization": "Bearer " + token, "Origin": "http://evil.example"}, 403},
		{"rebinding read", "GET", "/api/state", "", map[string]string{"Host": "evil.example:" + strings.Split(host, ":")[1]}, 403},
		{"rebinding page", "GET", "/", "", map[string]string{"Host": "evil.example"}, 403},
		{"own page", "POST", "/api/heartbeat", "", map[string]string{"Authorization": "Bearer " + token, "Origin": s.Base()}, 200},
		{"page", "GET", "/", "", nil, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, body := do(t, s, c.method, c.path, c.body, c.hdr); got != c.want {
				t.Fatalf("%s %s → %d %v, want %d", c.method, c.path, got, body, c.want)
			}
		})
	}
	if env.isPaused("billing") {
		t.Fatal("a refused request injected a fault")
	}
}

// TestConsoleControls: inject through the form's endpoint (the CLI's messages for bad input),
// the fault is listed with who injected it, HALT heals it and refuses the next inject, the
// timeline says so, notes land on it.
func TestConsoleControls(t *testing.T) {
	s, env, _ := startTest(t, 0)
	code, body := do(t, s, "POST", "/api/faults?who=ana", `{"fault":"latency","target":"redirect->link","params":{"latency":0}}`, auth)
	if code != 400 || body["error"] != "toxics: latency: latency must be > 0 (e.g. latency=100ms)" {
		t.Fatalf("bad inject → %d %v; want 400 with the CLI's message", code, body)
	}
	code, body = do(t, s, "POST", "/api/faults?who=ana", `{"fault":"pause","target":"redirect->link"}`, auth)
	if code != 400 || !strings.Contains(body["error"].(string), `pause is a process fault and "redirect->link" is not a component`) {
		t.Fatalf("pause on an edge → %d %v", code, body)
	}
	if code, body = do(t, s, "POST", "/api/faults?who=ana", `{"fault":"pause","target":"billing","for":"30s"}`, auth); code != 200 {
		t.Fatalf("inject → %d %v", code, body)
	}
	if !env.isPaused("billing") {
		t.Fatal("billing not paused")
	}
	v := waitView(t, s, func(v View) bool { return len(v.Faults) == 1 })
	if f := v.Faults[0]; f.Who != "ana (console)" || f.Source != ledger.SourceConsole || f.LeftS <= 0 || f.LeftS > 30 {
		t.Fatalf("listed fault %+v", f)
	}
	if code, _ := do(t, s, "POST", "/api/notes?who=bo", `{"text":"billing p99 flat, as designed"}`, auth); code != 200 {
		t.Fatalf("note → %d", code)
	}
	if code, _ := do(t, s, "POST", "/api/halt?who=cy", "", auth); code != 200 {
		t.Fatalf("halt → %d", code)
	}
	if env.isPaused("billing") {
		t.Fatal("HALT left billing paused")
	}
	code, body = do(t, s, "POST", "/api/faults?who=ana", `{"fault":"pause","target":"link"}`, auth)
	if code != 409 || !strings.Contains(body["error"].(string), "halted") || env.isPaused("link") {
		t.Fatalf("inject while halted → %d %v", code, body)
	}
	// A refused inject changes nothing the watchers are told about, so the view shows it on
	// its next tick: wait for it rather than read a view refreshed by the halt.
	v = waitView(t, s, func(v View) bool {
		return v.Halted && len(v.Faults) == 0 && len(v.Timeline) > 0 && v.Timeline[len(v.Timeline)-1].Kind == ledger.KindRefused
	})
	if v.HaltedBy != "cy (console)" {
		t.Fatalf("halted by %q", v.HaltedBy)
	}
	var kinds []string
	for _, e := range v.Timeline {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "error,error,inject,note,halt,heal,refused" && got != "inject,note,halt,heal,refused" {
		t.Fatalf("timeline %s", got)
	}
	if len(v.Windows) != 1 || v.Windows[0].ToS < 0 {
		t.Fatalf("fault windows %+v: want one, closed by the halt", v.Windows)
	}
	if code, _ := do(t, s, "POST", "/api/release?who=cy", "", auth); code != 200 {
		t.Fatal("release")
	}
	if code, _ := do(t, s, "POST", "/api/faults", `{"fault":"pause","target":"link"}`, auth); code != 200 {
		t.Fatal("inject after release refused")
	}
}

// TestDeadmanFromConsole: with no heartbeat for the dead-man time, the console's fault is
// healed and the timeline says why; heartbeats keep it.
func TestDeadmanFromConsole(t *testing.T) {
	s, env, _ := startTest(t, 600*time.Millisecond)
	if code, _ := do(t, s, "POST", "/api/faults", `{"fault":"pause","target":"analytics"}`, auth); code != 200 {
		t.Fatal("inject")
	}
	for range 6 { // 1.2 s of heartbeats every 200 ms
		time.Sleep(200 * time.Millisecond)
		do(t, s, "POST", "/api/heartbeat", "", auth)
	}
	if !env.isPaused("analytics") {
		t.Fatal("healed although heartbeats came")
	}
	v := waitView(t, s, func(v View) bool { return len(v.Faults) == 0 })
	last := v.Timeline[len(v.Timeline)-1]
	if last.Kind != ledger.KindDeadman || !strings.Contains(last.Text, "no console or CLI heartbeat") || env.isPaused("analytics") {
		t.Fatalf("last event %+v", last)
	}
}

// TestEventsStream: the page's live feed sends a view at once and then about every tick.
func TestEventsStream(t *testing.T) {
	s, _, _ := startTest(t, 0)
	resp, err := http.Get(s.Base() + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	began := time.Now()
	var seqs []int64
	for sc.Scan() && len(seqs) < 4 {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var v View
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, v.Seq)
	}
	if len(seqs) < 4 || time.Since(began) > 2*time.Second {
		t.Fatalf("got %v in %v: want 4 views within 2 s at a 100 ms tick", seqs, time.Since(began))
	}
}

func TestPageAssetsAreLocal(t *testing.T) {
	s, _, _ := startTest(t, 0)
	for _, p := range []string{"/", "/app.js", "/app.css"} {
		resp, err := http.Get(s.Base() + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("%s → %d, CSP %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
		// The SVG namespace is a name, not a fetch.
		text := strings.ReplaceAll(string(b), "'http://www.w3.org/2000/svg'", "")
		for _, bad := range []string{"http://", "https://", "//cdn"} {
			if i := strings.Index(text, bad); i >= 0 {
				t.Errorf("%s refers to the network: %q", p, text[max(i-40, 0):min(i+40, len(text))])
			}
		}
	}
}

func TestCatalogFromRegistry(t *testing.T) {
	c := catalog()
	if len(c.Faults) != len(toxics.Names()) {
		t.Fatalf("%d fault types, registry has %d", len(c.Faults), len(toxics.Names()))
	}
	for _, f := range c.Faults {
		if f.Name == "latency" && (f.Kind != toxics.Network || len(f.Params) == 0 || f.Params[0].Name != "latency") {
			t.Fatalf("latency: %+v", f)
		}
	}
}

// The inject form offers the partial faults of issue 15 (it is built from the registry): the
// request-level ones on edges, cpu on components, each with its parameters.
func TestCatalogHasPartialFaults(t *testing.T) {
	want := map[string]struct {
		kind  toxics.Kind
		param string
	}{
		"http_error":   {toxics.Network, "status"},
		"http_latency": {toxics.Network, "latency"},
		"http_reset":   {toxics.Network, "share"},
		"cpu":          {toxics.Process, "share"},
	}
	for _, f := range catalog().Faults {
		w, ok := want[f.Name]
		if !ok {
			continue
		}
		delete(want, f.Name)
		if f.Kind != w.kind || !slices.ContainsFunc(f.Params, func(p toxics.Param) bool { return p.Name == w.param }) {
			t.Errorf("%s: kind %v params %+v, want kind %v with %s", f.Name, f.Kind, f.Params, w.kind, w.param)
		}
	}
	for n := range want {
		t.Errorf("%s is not in the console's inject form", n)
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	_, err := Start(Options{Addr: "0.0.0.0:0", Token: token, Ledger: ledger.New(&fakeEnv{}, ledger.Options{})})
	if !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("got %v", err)
	}
}

func waitView(t *testing.T, s *Server, ok func(View) bool) View {
	t.Helper()
	_, unsubscribe := s.live.subscribe() // a page is open: the view refreshes every tick
	defer unsubscribe()
	deadline := time.Now().Add(3 * time.Second)
	for {
		v := s.live.current()
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("view never matched; last %+v", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
