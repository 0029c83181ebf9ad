package compose

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/system/topology"
)

// fakeEngine is a Docker Engine API with one container per component of a compose project.
type fakeEngine struct {
	mu    sync.Mutex
	ctrs  map[string]*fakeContainer // id -> container
	calls []string
}

type fakeContainer struct {
	service, project string
	running, paused  bool
	env              []string
	logs             []byte            // framed
	ips              map[string]string // network -> address
	ports            map[string]any    // NetworkSettings.Ports as the engine writes it
}

func frame(stream byte, s string) []byte {
	b := make([]byte, 8, 8+len(s))
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:], uint32(len(s)))
	return append(b, s...)
}

func newFakeEngine(t *testing.T, profile string) (*fakeEngine, string) {
	t.Helper()
	f := &fakeEngine{ctrs: map[string]*fakeContainer{}}
	for _, c := range topology.Components() {
		f.ctrs["id-"+c] = &fakeContainer{service: c, project: "faultline", running: true,
			env:  []string{"RESILIENCE_PROFILE=" + profile, "PATH=/bin"},
			logs: append(frame(1, `{"msg":"`+c+` out"}`+"\n"), frame(2, `{"msg":"`+c+` err"}`+"\n")...)}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_ping", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "OK") })
	mux.HandleFunc("GET /containers/json", func(w http.ResponseWriter, r *http.Request) {
		var filters map[string][]string
		_ = json.Unmarshal([]byte(r.URL.Query().Get("filters")), &filters)
		f.mu.Lock()
		defer f.mu.Unlock()
		type item struct {
			ID     string            `json:"Id"`
			Labels map[string]string `json:"Labels"`
		}
		out := []item{}
		for id, c := range f.ctrs {
			labels := map[string]string{"com.docker.compose.project": c.project, "com.docker.compose.service": c.service, "com.docker.compose.oneoff": "False"}
			match := true
			for _, l := range filters["label"] {
				k, v, _ := strings.Cut(l, "=")
				if labels[k] != v {
					match = false
				}
			}
			if match {
				out = append(out, item{id, labels})
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	get := func(w http.ResponseWriter, r *http.Request) *fakeContainer {
		c := f.ctrs[r.PathValue("id")]
		if c == nil {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"no such container"}`)
		}
		return c
	}
	mux.HandleFunc("GET /containers/{id}/json", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if c := get(w, r); c != nil {
			_ = json.NewEncoder(w).Encode(map[string]any{"Id": r.PathValue("id"),
				"State":           map[string]any{"Running": c.running, "Paused": c.paused, "Health": map[string]string{"Status": "healthy"}},
				"Config":          map[string]any{"Env": c.env, "Labels": map[string]string{"com.docker.compose.project": c.project}},
				"NetworkSettings": map[string]any{"Networks": networks(c.ips), "Ports": c.ports}})
		}
	})
	mux.HandleFunc("POST /containers/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		c := get(w, r)
		if c == nil {
			return
		}
		a := r.PathValue("action")
		f.calls = append(f.calls, a+" "+c.service)
		switch a {
		case "kill":
			if r.URL.Query().Get("signal") != "SIGKILL" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			c.running = false
		case "start":
			if c.running {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			c.running = true
		case "pause":
			c.paused = true
		case "unpause":
			c.paused = false
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /containers/{id}/logs", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if c := get(w, r); c != nil {
			w.Write(c.logs)
		}
	})
	sock := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return f, "unix://" + sock
}

func (f *fakeEngine) state(service string) fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.ctrs["id-"+service]
}

// stack is a real Toxiproxy with every edge's proxy, and a /readyz server standing in for
// each service.
type stack struct {
	toxiURL string
	hosts   map[string]string
	counted *atomic.Int64 // analytics' clicks_total; redirect has acknowledged 5
}

func newStack(t *testing.T) stack {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Listen(addr) }()
	t.Cleanup(func() { _ = srv.Collection.Clear(); _ = srv.Shutdown(); <-done })
	c := toxiclient.NewClient("http://" + addr)
	for i := 0; ; i++ {
		if _, err := c.Version(); err == nil {
			break
		}
		if i > 200 {
			t.Fatal("toxiproxy did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, e := range topology.Edges() {
		if _, err := c.CreateProxy(e.Name, "127.0.0.1:0", "127.0.0.1:1"); err != nil {
			t.Fatal(err)
		}
	}
	hosts := map[string]string{}
	counted := new(atomic.Int64)
	for _, comp := range topology.Components() {
		svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/readyz":
			case comp == "redirect" && r.URL.Path == "/clicks":
				io.WriteString(w, `{"acked_total": 5, "dropped": {"publish_error": 1}}`)
			case comp == "analytics" && r.URL.Path == "/stats":
				fmt.Fprintf(w, `{"clicks_total": %d}`, counted.Load())
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(svc.Close)
		hosts[comp] = strings.TrimPrefix(svc.URL, "http://")
	}
	return stack{toxiURL: "http://" + addr, hosts: hosts, counted: counted}
}

func TestStartAttachesHealsAndControls(t *testing.T) {
	st := newStack(t)
	engine, dockerHost := newFakeEngine(t, "default")
	// A toxic and a disabled proxy left by an interrupted run.
	c := toxiclient.NewClient(st.toxiURL)
	p, _ := c.Proxy("link->billing")
	if _, err := p.AddToxic("left", "latency", "downstream", 1, toxiclient.Attributes{"latency": 500}); err != nil {
		t.Fatal(err)
	}
	q, _ := c.Proxy("redirect->redis")
	if err := q.Disable(); err != nil {
		t.Fatal(err)
	}
	engine.mu.Lock()
	engine.ctrs["id-analytics"].running = false
	engine.mu.Unlock()

	dir := t.TempDir()
	ctx := context.Background()
	s, err := Start(ctx, Options{ToxiproxyURL: st.toxiURL, DockerHost: dockerHost, Hosts: st.hosts, Flush: time.Millisecond},
		lab.Options{Dir: dir, Profile: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)

	if p, _ := c.Proxy("link->billing"); len(p.ActiveToxics) != 0 {
		t.Errorf("leftover toxics %v not healed", p.ActiveToxics)
	}
	if q, _ := c.Proxy("redirect->redis"); !q.Enabled {
		t.Error("leftover disabled proxy not enabled")
	}
	if !engine.state("analytics").running {
		t.Error("stopped analytics container not started again")
	}
	gw, _ := c.Proxy("client->gateway")
	if want := "http://" + gw.Listen; s.Gateway() != want {
		t.Errorf("Gateway() = %q, want %q", s.Gateway(), want)
	}
	if got, want := s.Direct("redirect"), "http://"+st.hosts["redirect"]; got != want {
		t.Errorf("Direct(redirect) = %q, want %q", got, want)
	}

	ctl, err := s.Env().Component("link")
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if ctl.Running() || engine.state("link").running {
		t.Fatal("link still running after Kill")
	}
	if err := ctl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Pause(ctx); err != nil || !engine.state("link").paused {
		t.Fatalf("Pause: %v", err)
	}
	if err := ctl.Resume(ctx); err != nil || engine.state("link").paused {
		t.Fatalf("Resume: %v", err)
	}
	if _, err := s.Env().Component("nope"); !errors.Is(err, lab.ErrUnknownTarget) {
		t.Errorf("Component(nope) = %v, want ErrUnknownTarget", err)
	}
	if _, err := s.Env().Proxy("a->b"); !errors.Is(err, lab.ErrUnknownTarget) {
		t.Errorf("Proxy(a->b) = %v, want ErrUnknownTarget", err)
	}
	// A crash the scenario never healed is healed by Close.
	ctl2, _ := s.Env().Component("billing")
	if err := ctl2.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !engine.state("billing").running {
		t.Error("Close left billing killed")
	}
	b, err := os.ReadFile(filepath.Join(dir, "logs", "link.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"msg\":\"link out\"}\n{\"msg\":\"link err\"}\n"; string(b) != want {
		t.Errorf("link.log = %q, want %q", b, want)
	}
}

func TestStartRefusesAnotherProfile(t *testing.T) {
	st := newStack(t)
	_, dockerHost := newFakeEngine(t, "aggressive")
	_, err := Start(context.Background(), Options{ToxiproxyURL: st.toxiURL, DockerHost: dockerHost, Hosts: st.hosts},
		lab.Options{Profile: "none"})
	if !errors.Is(err, ErrProfile) || !strings.Contains(err.Error(), "FAULTLINE_PROFILE=none") {
		t.Fatalf("Start = %v, want ErrProfile telling how to restart", err)
	}
}

func TestStartNamesMissingProxies(t *testing.T) {
	st := newStack(t)
	c := toxiclient.NewClient(st.toxiURL)
	p, _ := c.Proxy("analytics->nats")
	if err := p.Delete(); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{ToxiproxyURL: st.toxiURL, DockerHost: "unix:///nonexistent.sock", Hosts: st.hosts},
		lab.Options{})
	if !errors.Is(err, ErrDrift) || !strings.Contains(err.Error(), "analytics->nats") {
		t.Fatalf("Start = %v, want ErrDrift naming analytics->nats", err)
	}
}

func TestForwarderRelaysSpans(t *testing.T) {
	st := newStack(t)
	got := make(chan string, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.URL.Path + " " + r.Header.Get("Content-Encoding") + " " + string(b)
	}))
	defer recv.Close()
	ctx := context.Background()
	// No Docker: network faults and spans still work.
	s, err := Start(ctx, Options{ToxiproxyURL: st.toxiURL, DockerHost: "unix:///nonexistent.sock", Hosts: st.hosts, OTLPListen: "127.0.0.1:0", Flush: time.Millisecond},
		lab.Options{OTLPEndpoint: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	addr := s.fwdAddr()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/traces", bytes.NewReader([]byte("spans")))
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if g := <-got; g != "/v1/traces gzip spans" {
		t.Errorf("receiver got %q", g)
	}
	if _, err := s.Env().Component("link"); err == nil {
		t.Error("a process fault without the Docker API did not fail")
	}
}

func TestDemux(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		want    string
		wantErr bool
	}{
		{"empty", nil, "", false},
		{"two frames", append(frame(1, "a\n"), frame(2, "b\n")...), "a\nb\n", false},
		{"truncated payload", frame(1, "abc")[:10], "", true},
		{"bad header", []byte{9, 9, 9, 9, 0, 0, 0, 1, 'x'}, "", true},
		{"huge frame", []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := demux(bytes.NewReader(tc.in), &out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func FuzzDemux(f *testing.F) {
	f.Add(append(frame(1, "a\n"), frame(2, "b\n")...))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 5, 'x'})
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		_ = demux(bytes.NewReader(in), &out)
		if out.Len() > len(in) {
			t.Fatalf("wrote %d bytes from %d", out.Len(), len(in))
		}
	})
}

func TestCheckPrivate(t *testing.T) {
	cases := []struct {
		url     string
		wantErr bool
	}{
		{"http://127.0.0.1:18080", false},
		{"http://172.18.0.5:18080", false},
		{"http://10.1.2.3:18080", false},
		{"http://[::1]:18080", false},
		{"http://8.8.8.8:18080", true},
		{"http://192.0.2.1:18080", true},
	}
	for _, tc := range cases {
		err := checkPrivate(context.Background(), tc.url)
		if (err != nil) != tc.wantErr {
			t.Errorf("checkPrivate(%s) = %v, wantErr %v", tc.url, err, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrRemote) {
			t.Errorf("checkPrivate(%s) = %v, want ErrRemote", tc.url, err)
		}
	}
}

// fakeGrafana records annotation calls.
type fakeGrafana struct {
	mu     sync.Mutex
	nextID int64
	posts  []map[string]any
	ended  map[int64]int64
}

func newFakeGrafana(t *testing.T) (*fakeGrafana, string) {
	g := &fakeGrafana{ended: map[int64]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/annotations", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		g.mu.Lock()
		g.nextID++
		g.posts = append(g.posts, body)
		id := g.nextID
		g.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "message": "Annotation added"})
	})
	mux.HandleFunc("PATCH /api/annotations/{id}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			TimeEnd int64 `json:"timeEnd"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		var id int64
		_, _ = fmt.Sscan(r.PathValue("id"), &id)
		g.mu.Lock()
		g.ended[id] = body.TimeEnd
		g.mu.Unlock()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return g, srv.URL
}

func TestFaultsAreAnnotated(t *testing.T) {
	st := newStack(t)
	_, dockerHost := newFakeEngine(t, "default")
	g, gURL := newFakeGrafana(t)
	ctx := context.Background()
	s, err := Start(ctx, Options{ToxiproxyURL: st.toxiURL, DockerHost: dockerHost, Hosts: st.hosts, Flush: time.Millisecond,
		Grafana: Grafana{URL: gURL, User: "admin", Password: "pw"}}, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	p, err := s.Env().Proxy("link->billing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddToxic("slow", "latency", "downstream", 1, toxiclient.Attributes{"latency": 300}); err != nil {
		t.Fatal(err)
	}
	ctl, _ := s.Env().Component("analytics")
	if err := ctl.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	s.ann.poll(ctx)
	s.ann.poll(ctx) // a second look at the same faults opens nothing new
	g.mu.Lock()
	if len(g.posts) != 2 {
		t.Fatalf("%d annotations, want 2 (the toxic and the pause): %v", len(g.posts), g.posts)
	}
	var texts []string
	for _, b := range g.posts {
		texts = append(texts, b["text"].(string))
		tags := fmt.Sprint(b["tags"])
		if !strings.Contains(tags, "fault") || !strings.Contains(tags, "faultline") {
			t.Errorf("tags %s", tags)
		}
	}
	g.mu.Unlock()
	joined := strings.Join(texts, "; ")
	if !strings.Contains(joined, "latency on link->billing") || !strings.Contains(joined, "latency=300") || !strings.Contains(joined, "analytics paused") {
		t.Errorf("annotation texts %q", joined)
	}
	// Close heals both and ends both regions.
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.ended) != 2 {
		t.Errorf("%d regions ended, want 2", len(g.ended))
	}
	for id, end := range g.ended {
		if start := int64(g.posts[id-1]["time"].(float64)); end < start {
			t.Errorf("region %d ends at %d before it starts at %d", id, end, start)
		}
	}
}

// TestStartAcceptsUsedStack: a long-lived stack holds clicks of earlier runs and redirect's
// in-memory ledger forgets them on a restart. The runner judges clicks per code it created,
// from its own tally (scenarios/runner/datasafety.go), so neither refuses an attach.
func TestStartAcceptsUsedStack(t *testing.T) {
	st := newStack(t)
	st.counted.Store(1000) // far more than redirect's ledger acknowledges
	s, err := Start(context.Background(), Options{ToxiproxyURL: st.toxiURL, DockerHost: "unix:///nonexistent.sock", Hosts: st.hosts, Flush: time.Millisecond}, lab.Options{})
	if err != nil {
		t.Fatalf("Start on a used stack: %v", err)
	}
	s.Close(context.Background())
}

func networks(ips map[string]string) map[string]any {
	out := map[string]any{}
	for n, ip := range ips {
		out[n] = map[string]string{"IPAddress": ip}
	}
	return out
}

// TestHostSideAddresses: a lab on the Docker host (service names do not resolve) reaches the
// gateway through the port published on 127.0.0.1 and each component at its container's
// address on the project's network, re-read after a restart.
func TestHostSideAddresses(t *testing.T) {
	engine, dockerHost := newFakeEngine(t, "default")
	engine.mu.Lock()
	engine.ctrs["id-toxiproxy"] = &fakeContainer{service: "toxiproxy", project: "faultline", running: true,
		ports: map[string]any{"18080/tcp": []map[string]string{{"HostIp": "127.0.0.1", "HostPort": "41234"}}, "8474/tcp": nil}}
	engine.ctrs["id-redirect"].ips = map[string]string{"bridge": "172.17.0.9", "faultline_default": "172.18.0.7"}
	engine.mu.Unlock()
	d, err := NewDocker(dockerHost)
	if err != nil {
		t.Fatal(err)
	}
	s := &System{o: Options{Project: "faultline", Hosts: map[string]string{"link": "10.0.0.1:1"}}, docker: d, containers: map[string]string{}}
	ctx := context.Background()
	s.hostsFromDocker(ctx)
	if !s.outside {
		t.Fatal("a name like toxiproxy resolves here: the test assumes a host outside any compose network")
	}
	if got, want := s.Direct("redirect"), "http://172.18.0.7:8080"; got != want {
		t.Errorf("Direct(redirect) = %q, want %q (the project network's address)", got, want)
	}
	if got, want := s.Direct("link"), "http://10.0.0.1:1"; got != want {
		t.Errorf("Direct(link) = %q, want the explicit host %q", got, want)
	}
	if got, want := s.publishedGateway(ctx, "127.0.0.1", "18080"), "127.0.0.1:41234"; got != want {
		t.Errorf("published gateway %q, want %q", got, want)
	}
	if got := s.publishedGateway(ctx, "toxiproxy", "18080"); got != "" {
		t.Errorf("published gateway through a compose-network name: %q, want none", got)
	}
	engine.mu.Lock()
	engine.ctrs["id-redirect"].ips = map[string]string{"faultline_default": "172.18.0.12"}
	engine.ctrs["id-redirect"].running = false
	engine.mu.Unlock()
	s.refreshHost(ctx, "redirect")
	if got, want := s.Direct("redirect"), "http://172.18.0.12:8080"; got != want {
		t.Errorf("after a restart Direct(redirect) = %q, want %q", got, want)
	}
}
