package toxics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// testEnv is a real in-process Toxiproxy with one proxy ("client->echo") in front of an
// HTTP server, plus fake process controllers.
type testEnv struct {
	client *toxiclient.Client
	listen string // the proxy's address
	comps  map[string]*fakeController
	stop   func() // shuts the Toxiproxy server down (idempotent)
}

func (e *testEnv) Proxy(edge string) (*toxiclient.Proxy, error) { return e.client.Proxy(edge) }
func (e *testEnv) Component(name string) (Controller, error) {
	c, ok := e.comps[name]
	if !ok {
		return nil, fmt.Errorf("no component %q", name)
	}
	return c, nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 64))
	}))
	t.Cleanup(upstream.Close)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	api := freeAddr(t)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Listen(api) }()
	c := toxiclient.NewClient("http://" + api)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.Version(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("toxiproxy did not answer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = srv.Collection.Clear()
			_ = srv.Shutdown()
			<-done
		})
	}
	t.Cleanup(stop)
	listen := freeAddr(t)
	if _, err := c.CreateProxy("client->echo", listen, strings.TrimPrefix(upstream.URL, "http://")); err != nil {
		t.Fatal(err)
	}
	return &testEnv{client: c, listen: listen, comps: map[string]*fakeController{"svc": {running: true}}, stop: stop}
}

// get does one request on a fresh connection and returns its duration.
func (e *testEnv) get(ctx context.Context) (time.Duration, error) {
	// A fresh transport per call: a new connection, kept alive so the timeout toxic can hang it.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.listen+"/", nil)
	start := time.Now()
	resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func median(t *testing.T, e *testEnv, n int) time.Duration {
	t.Helper()
	var ds []time.Duration
	for i := 0; i < n; i++ {
		d, err := e.get(context.Background())
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[n/2]
}

func mustNew(t *testing.T, name string, params map[string]any) Fault {
	t.Helper()
	f, err := New(name, params)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLatencyAddsDelayAndUndoRestoresBaseline(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	base := median(t, e, 5)
	undo, err := mustNew(t, "latency", map[string]any{"latency": "100ms"}).Apply(ctx, e, "client->echo")
	if err != nil {
		t.Fatal(err)
	}
	got := median(t, e, 5) - base
	if got < 90*time.Millisecond || got > 130*time.Millisecond {
		t.Errorf("added latency %v, want 100ms ± 15ms", got)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if err := undo(ctx); err != nil {
		t.Fatalf("second undo: %v", err)
	}
	if after := median(t, e, 5); after > base+20*time.Millisecond {
		t.Errorf("after undo %v, baseline %v", after, base)
	}
	p, _ := e.client.Proxy("client->echo")
	if len(p.ActiveToxics) != 0 {
		t.Errorf("toxics left: %+v", p.ActiveToxics)
	}
}

func TestDirectionBothAddsTwoToxics(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	undo, err := mustNew(t, "bandwidth", map[string]any{"rate": 100, "direction": "both", "toxicity": 0.5}).Apply(ctx, e, "client->echo")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := e.client.Proxy("client->echo")
	var streams []string
	for _, tx := range p.ActiveToxics {
		streams = append(streams, tx.Stream)
		if tx.Toxicity != 0.5 || tx.Type != "bandwidth" || !strings.HasPrefix(tx.Name, ToxicPrefix) {
			t.Errorf("toxic %+v", tx)
		}
	}
	sort.Strings(streams)
	if strings.Join(streams, ",") != "downstream,upstream" {
		t.Errorf("streams %v", streams)
	}
	_ = undo(ctx)
	p, _ = e.client.Proxy("client->echo")
	if len(p.ActiveToxics) != 0 {
		t.Errorf("toxics left: %+v", p.ActiveToxics)
	}
}

func TestPartitionRefusesAndHeals(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	undo, err := mustNew(t, "partition", nil).Apply(ctx, e, "client->echo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(ctx); err == nil {
		t.Error("request passed a partitioned edge")
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(ctx); err != nil {
		t.Errorf("after heal: %v", err)
	}
}

func TestResetPeerResets(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	undo, err := mustNew(t, "reset_peer", map[string]any{"timeout": 0}).Apply(ctx, e, "client->echo")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.get(ctx)
	if err == nil || !(strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "EOF")) {
		t.Errorf("want a reset, got %v", err)
	}
	_ = undo(ctx)
	if _, err := e.get(ctx); err != nil {
		t.Errorf("after undo: %v", err)
	}
}

func TestLimitDataAndTimeout(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	undo, err := mustNew(t, "limit_data", map[string]any{"bytes": 10}).Apply(ctx, e, "client->echo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(ctx); err == nil {
		t.Error("limit_data of 10 bytes let a whole response through")
	}
	_ = undo(ctx)
	undo, err = mustNew(t, "timeout", map[string]any{"timeout": "150ms"}).Apply(ctx, e, "client->echo")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := e.get(ctx); err == nil {
		t.Error("timeout toxic let the request through")
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("timeout toxic failed after %v, want about 150ms", d)
	}
	_ = undo(ctx)
	if _, err := e.get(ctx); err != nil {
		t.Errorf("after undo: %v", err)
	}
}

func TestNetworkFaultOnUnknownEdge(t *testing.T) {
	e := newTestEnv(t)
	if _, err := mustNew(t, "latency", map[string]any{"latency": 5}).Apply(context.Background(), e, "nope->nope"); err == nil {
		t.Error("want an error for an unknown edge")
	}
}

type fakeController struct {
	mu      sync.Mutex
	running bool
	paused  bool
	calls   []string
}

func (f *fakeController) do(call string, running, paused bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	f.running, f.paused = running, paused
	return nil
}
func (f *fakeController) Kill(context.Context) error   { return f.do("kill", false, false) }
func (f *fakeController) Start(context.Context) error  { return f.do("start", true, false) }
func (f *fakeController) Pause(context.Context) error  { return f.do("pause", true, true) }
func (f *fakeController) Resume(context.Context) error { return f.do("resume", true, false) }
func (f *fakeController) Running() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}
func (f *fakeController) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ",")
}

func TestProcessFaults(t *testing.T) {
	tests := []struct {
		name       string
		params     map[string]any
		afterApply string
		afterUndo  string
	}{
		{"crash", nil, "kill", "kill,start"},
		{"restart", nil, "kill,start", "kill,start,start"},
		{"pause", nil, "pause", "pause,resume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeController{running: true}
			env := &testEnv{comps: map[string]*fakeController{"svc": c}}
			undo, err := mustNew(t, tt.name, tt.params).Apply(context.Background(), env, "svc")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.log(); got != tt.afterApply {
				t.Errorf("after apply: %s, want %s", got, tt.afterApply)
			}
			_ = undo(context.Background())
			_ = undo(context.Background())
			if got := c.log(); got != tt.afterUndo {
				t.Errorf("after undo twice: %s, want %s", got, tt.afterUndo)
			}
		})
	}
}

func TestCrashRestartsAfterDelay(t *testing.T) {
	c := &fakeController{running: true}
	env := &testEnv{comps: map[string]*fakeController{"svc": c}}
	undo, err := mustNew(t, "crash", map[string]any{"restart_after": "50ms"}).Apply(context.Background(), env, "svc")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !c.Running() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !c.Running() {
		t.Fatal("not restarted after restart_after")
	}
	_ = undo(context.Background())
	if _, err := mustNew(t, "crash", nil).Apply(context.Background(), env, "ghost"); err == nil {
		t.Error("want an error for an unknown component")
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		fault   string
		params  map[string]any
		wantErr string
	}{
		{"latency string", "latency", map[string]any{"latency": "100ms", "jitter": "10ms"}, ""},
		{"latency ms number", "latency", map[string]any{"latency": 100}, ""},
		{"latency duration value", "latency", map[string]any{"latency": 100 * time.Millisecond}, ""},
		{"missing latency", "latency", nil, "latency must be > 0"},
		{"jitter above latency", "latency", map[string]any{"latency": "10ms", "jitter": "20ms"}, "jitter"},
		{"unknown param", "latency", map[string]any{"latncy": "10ms"}, `latency: unknown parameter "latncy" (known: direction, jitter, latency, toxicity)`},
		{"bad duration", "latency", map[string]any{"latency": "fast"}, "want e.g. 100ms"},
		{"bad type", "bandwidth", map[string]any{"rate": "lots"}, "parameter rate"},
		{"toxicity range", "bandwidth", map[string]any{"rate": 1, "toxicity": 1.5}, "toxicity"},
		// Faults that would do nothing, or silently change meaning, are refused.
		{"toxicity 0 affects nothing", "latency", map[string]any{"latency": "100ms", "toxicity": 0}, "toxicity 0: want a share of connections in (0, 1]"},
		{"toxicity 1", "latency", map[string]any{"latency": "100ms", "toxicity": 1}, ""},
		{"latency below 1ms becomes 0", "latency", map[string]any{"latency": "500us"}, "latency 500µs: expected whole milliseconds"},
		{"latency 0.5 ms number", "latency", map[string]any{"latency": 0.5}, "would silently become 0, no delay at all"},
		{"latency truncated", "latency", map[string]any{"latency": "1.5ms"}, "would silently become 1ms"},
		{"jitter truncated", "latency", map[string]any{"latency": "10ms", "jitter": "2500us"}, "jitter 2.5ms: expected whole milliseconds"},
		{"timeout below 1ms becomes a blackhole", "timeout", map[string]any{"timeout": "500us"}, "would silently become 0, a blackhole"},
		{"blackhole as 0s", "timeout", map[string]any{"timeout": "0s"}, ""},
		{"reset_peer truncated", "reset_peer", map[string]any{"timeout": "0.5ms"}, "a reset at once"},
		{"slow_close truncated", "slow_close", map[string]any{"delay": "999us"}, "delay 999µs: expected whole milliseconds"},
		{"whole ms as a duration", "slow_close", map[string]any{"delay": "1.001s"}, ""},
		{"direction", "slow_close", map[string]any{"delay": "1s", "direction": "sideways"}, "direction"},
		{"blackhole", "timeout", map[string]any{"timeout": 0}, ""},
		{"negative timeout", "timeout", map[string]any{"timeout": -1}, "timeout must be >= 0"},
		{"limit_data", "limit_data", map[string]any{"bytes": 0}, "bytes must be > 0"},
		{"partition takes nothing", "partition", map[string]any{"latency": 1}, "unknown parameter"},
		{"crash", "crash", map[string]any{"restart_after": "5s"}, ""},
		{"unknown fault", "meteor", nil, "unknown fault"},
		// Request-level faults.
		{"http_error", "http_error", map[string]any{"status": 503, "share": 0.1, "method": "POST", "path": "/api", "body": "busy", "retry_after": "2s", "seed": 7}, ""},
		{"http_error needs a share", "http_error", map[string]any{"status": 503}, "share is required"},
		{"http_error share 0 does nothing", "http_error", map[string]any{"status": 503, "share": 0}, "share 0: want a share of requests in (0, 1]"},
		{"http_error share above 1", "http_error", map[string]any{"status": 503, "share": 1.5}, "share 1.5"},
		{"http_error status", "http_error", map[string]any{"status": 42, "share": 0.1}, "status 42: want a final HTTP status in 200..599"},
		{"http_error retry_after whole seconds", "http_error", map[string]any{"status": 503, "share": 0.1, "retry_after": "1500ms"}, "retry_after 1.5s: want whole seconds"},
		{"http_error path", "http_error", map[string]any{"status": 503, "share": 0.1, "path": "api"}, `path "api": want a path prefix starting with /`},
		{"http_error method", "http_error", map[string]any{"status": 503, "share": 0.1, "method": "GE T"}, `method "GE T"`},
		{"http_error takes no toxicity", "http_error", map[string]any{"status": 503, "share": 0.1, "toxicity": 1}, "unknown parameter"},
		{"http_latency", "http_latency", map[string]any{"latency": "2s", "jitter": "100ms", "share": 0.02, "path": "/r"}, ""},
		{"http_latency needs latency", "http_latency", map[string]any{"share": 0.02}, "latency must be > 0"},
		{"http_latency whole ms", "http_latency", map[string]any{"latency": "1.5ms", "share": 0.02}, "would silently become 1ms"},
		{"http_latency jitter", "http_latency", map[string]any{"latency": "10ms", "jitter": "20ms", "share": 0.5}, "jitter"},
		{"http_reset", "http_reset", map[string]any{"share": 0.05}, ""},
		{"http_reset takes no status", "http_reset", map[string]any{"share": 0.05, "status": 500}, "unknown parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.fault, tt.params)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := New("meteor", nil); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown fault: %v", err)
	}
}

func TestEveryFaultRegistered(t *testing.T) {
	want := "bandwidth cpu crash http_error http_latency http_reset latency limit_data partition pause reset_peer restart slow_close timeout"
	if got := strings.Join(Names(), " "); got != want {
		t.Errorf("Names() = %s, want %s", got, want)
	}
}

func FuzzNew(f *testing.F) {
	f.Add("latency", "latency", "100ms")
	f.Add("timeout", "timeout", "0")
	f.Add("bandwidth", "rate", "12")
	f.Add("crash", "restart_after", "-1s")
	f.Add("timeout", "timeout", "500us")
	f.Add("latency", "toxicity", "0")
	f.Fuzz(func(t *testing.T, fault, key, value string) {
		fl, err := New(fault, map[string]any{key: value})
		if err == nil && fl == nil {
			t.Fatal("nil fault without error")
		}
	})
}

// TestDescribeMatchesParamNames: the console's form offers exactly the parameters New takes,
// for every registered fault, with a type for each.
func TestDescribeMatchesParamNames(t *testing.T) {
	for _, name := range Names() {
		f, _ := Lookup(name)
		var got []string
		for _, p := range Describe(f) {
			got = append(got, p.Name)
			if p.Type == "" {
				t.Errorf("%s.%s: no type", name, p.Name)
			}
		}
		sort.Strings(got)
		if want := ParamNames(f); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: Describe %v, ParamNames %v", name, got, want)
		}
	}
	lat, _ := Lookup("latency")
	if d := Describe(lat); d[0] != (Param{Name: "latency", Type: "duration"}) || !d[1].Optional {
		t.Errorf("latency described as %+v", d)
	}
}
