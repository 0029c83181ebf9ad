package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// Options configure the compose backend. OptionsFromEnv fills them the way the lab service
// of docker-compose.yml sets them.
type Options struct {
	ToxiproxyURL string // the stack's Toxiproxy API (default http://toxiproxy:8474)
	Project      string // compose project name (default: the lab container's own, else "faultline")
	DockerHost   string // Docker Engine API (default unix:///var/run/docker.sock)
	// OTLPListen is where the collector sends the lab its spans (the lab service listens on
	// 0.0.0.0:4318); they are forwarded to the runner's receiver. Empty: no forwarder.
	OTLPListen string
	// Hosts overrides how the lab reaches a component directly (host:port), e.g. published
	// ports when the lab runs outside the compose network. Default: NAME:container port.
	Hosts        map[string]string
	ReadyTimeout time.Duration // for the stack to be ready, and for a restarted container (default 60s)
	Grafana      Grafana       // where fault annotations go (empty URL: none)
	// AllowRemote lets the stack's Toxiproxy be on a public address; by default it must
	// resolve to loopback or private addresses only (a compose network is private).
	AllowRemote bool
	Flush       time.Duration // wait before Close returns, so spans in the collector reach the lab (default 2s)
}

// OptionsFromEnv reads FAULTLINE_TOXIPROXY_URL, FAULTLINE_COMPOSE_PROJECT, DOCKER_HOST,
// FAULTLINE_OTLP_LISTEN and FAULTLINE_GRAFANA_URL, _USER, _PASSWORD.
func OptionsFromEnv(getenv func(string) string) Options {
	return Options{
		ToxiproxyURL: getenv("FAULTLINE_TOXIPROXY_URL"),
		Project:      getenv("FAULTLINE_COMPOSE_PROJECT"),
		DockerHost:   getenv("DOCKER_HOST"),
		OTLPListen:   getenv("FAULTLINE_OTLP_LISTEN"),
		Grafana: Grafana{URL: getenv("FAULTLINE_GRAFANA_URL"), User: getenv("FAULTLINE_GRAFANA_USER"),
			Password: getenv("FAULTLINE_GRAFANA_PASSWORD")},
	}
}

// System is the compose stack seen as a running system: the runner drives it like the
// process backend. It does not own the stack: Close heals every fault and leaves it running.
type System struct {
	o       Options
	lo      lab.Options
	toxi    *toxiclient.Client
	gateway string
	docker  *Docker // nil when the Engine API does not answer: no process faults then
	started time.Time

	ann       *annotator
	annCancel context.CancelFunc
	annDone   chan struct{}

	fwd *Forwarder // nil without OTLPListen
	// outside: the lab is not in the compose network; Hosts come from the Engine API.
	outside bool

	mu         sync.Mutex
	containers map[string]string // component -> container id
	pids       *HostPids         // nil without the Engine API

	closeOnce sync.Once
	closeErr  error
}

// ErrProfile is returned when the stack runs another resilience profile than the run asks.
var ErrProfile = errors.New("compose: profile mismatch")

// Start attaches to a running compose stack: it checks every edge's proxy, heals what a
// previous run may have left, checks the services' profile, waits until every service is
// ready and starts the span forwarder. lo.Dir receives the containers' logs on Close.
func Start(ctx context.Context, o Options, lo lab.Options) (_ *System, err error) {
	if o.ToxiproxyURL == "" {
		o.ToxiproxyURL = "http://toxiproxy:8474"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.Flush == 0 {
		o.Flush = 2 * time.Second
	}
	if lo.Profile == "" {
		lo.Profile = "default"
	}
	if lo.Log == nil {
		lo.Log = io.Discard
	}
	s := &System{o: o, lo: lo, toxi: toxiclient.NewClient(o.ToxiproxyURL), started: time.Now(), containers: map[string]string{}}
	defer func() {
		if err != nil {
			_ = s.Close(context.WithoutCancel(ctx))
		}
	}()
	s.attachDocker(ctx)
	if s.docker != nil {
		s.pids = NewHostPids(func(ctx context.Context, component string) (int, error) {
			id, err := s.container(ctx, component)
			if err != nil {
				return 0, err
			}
			st, err := s.docker.Inspect(ctx, id)
			return st.Pid, err
		})
	}
	if err := s.attachToxiproxy(ctx); err != nil {
		return nil, err
	}
	if err := s.checkProfile(ctx); err != nil {
		return nil, err
	}
	if err := s.HealAll(ctx); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}
	if err := s.startForwarder(); err != nil {
		return nil, err
	}
	if o.Grafana.URL != "" {
		s.ann = newAnnotator(o.Grafana, s.faults)
		actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.annCancel, s.annDone = cancel, make(chan struct{})
		go func() {
			defer close(s.annDone)
			s.ann.run(actx, 500*time.Millisecond)
		}()
		s.logf("compose: faults are annotated in Grafana %s (tag fault)", o.Grafana.URL)
	}
	s.logf("compose: attached to the stack (gateway %s, toxiproxy %s, project %q)", s.gateway, o.ToxiproxyURL, s.o.Project)
	return s, nil
}

func (s *System) logf(format string, args ...any) { fmt.Fprintf(s.lo.Log, format+"\n", args...) }

// attachToxiproxy waits for the API and checks that every edge has its proxy.
func (s *System) attachToxiproxy(ctx context.Context) error {
	deadline := time.Now().Add(s.o.ReadyTimeout)
	var proxies map[string]*toxiclient.Proxy
	for {
		var err error
		if proxies, err = s.toxi.Proxies(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("compose: toxiproxy %s: %w (is the stack up? docker compose up -d --wait)", s.o.ToxiproxyURL, err)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	var errs []error
	for _, e := range topology.Edges() {
		if _, ok := proxies[e.Name]; !ok {
			errs = append(errs, fmt.Errorf("%w: edge %s has no proxy in %s (is deploy/toxiproxy.json mounted?)", ErrDrift, e.Name, s.o.ToxiproxyURL))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, port, err := net.SplitHostPort(proxies["client->gateway"].Listen)
	if err != nil {
		return fmt.Errorf("compose: client->gateway listens on %q: %w", proxies["client->gateway"].Listen, err)
	}
	host := "toxiproxy"
	if u, err := url.Parse(s.o.ToxiproxyURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	s.gateway = "http://" + net.JoinHostPort(host, port)
	if h, ok := s.o.Hosts["client->gateway"]; ok {
		s.gateway = "http://" + h
	} else if pub := s.publishedGateway(ctx, host, port); pub != "" {
		s.gateway = "http://" + pub
	}
	if s.o.AllowRemote {
		return nil
	}
	return checkPrivate(ctx, s.gateway)
}

// ErrRemote is returned when the stack is on a public address and AllowRemote is off.
var ErrRemote = errors.New("compose: refusing a public address (load goes there)")

// checkPrivate resolves a base URL's host: every address must be loopback or private.
func checkPrivate(ctx context.Context, base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("compose: %q: %w", base, err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(rctx, u.Hostname())
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("%w: cannot resolve %s: %v", ErrRemote, u.Hostname(), err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() && !a.IP.IsPrivate() {
			return fmt.Errorf("%w: %s resolves to %s", ErrRemote, u.Hostname(), a.IP)
		}
	}
	return nil
}

// attachDocker finds the Engine API and the project; without them network faults still work.
func (s *System) attachDocker(ctx context.Context) {
	d, err := NewDocker(s.o.DockerHost)
	if err == nil {
		err = d.Ping(ctx)
	}
	if err != nil {
		s.logf("compose: no Docker API (%v): process faults (crash, restart, pause) and container logs are unavailable; mount /var/run/docker.sock", err)
		if s.o.Project == "" {
			s.o.Project = "faultline"
		}
		return
	}
	s.docker = d
	defer s.hostsFromDocker(ctx)
	if s.o.Project == "" {
		// In a compose container the hostname is the container id: take its project.
		if host, err := os.Hostname(); err == nil {
			if st, err := d.Inspect(ctx, host); err == nil && st.Labels["com.docker.compose.project"] != "" {
				s.o.Project = st.Labels["com.docker.compose.project"]
			}
		}
		if s.o.Project == "" {
			s.o.Project = "faultline"
		}
	}
}

// checkProfile refuses to run a scenario against services configured with another profile:
// the verdict would be about the wrong system.
func (s *System) checkProfile(ctx context.Context) error {
	if s.docker == nil {
		s.logf("compose: cannot read the services' profile without the Docker API; assuming %q", s.lo.Profile)
		return nil
	}
	var errs []error
	for _, c := range topology.Components() {
		if topology.KindOf(c) != topology.KindService {
			continue
		}
		id, err := s.container(ctx, c)
		if err != nil {
			return err
		}
		st, err := s.docker.Inspect(ctx, id)
		if err != nil {
			return err
		}
		if got := st.Env["RESILIENCE_PROFILE"]; got != s.lo.Profile {
			errs = append(errs, fmt.Errorf("%s runs %q", c, got))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: the run wants %q but %w; restart the stack with FAULTLINE_PROFILE=%s docker compose up -d --wait",
			ErrProfile, s.lo.Profile, errors.Join(errs...), s.lo.Profile)
	}
	return nil
}

func (s *System) container(ctx context.Context, component string) (string, error) {
	s.mu.Lock()
	id, ok := s.containers[component]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	if s.docker == nil {
		return "", fmt.Errorf("compose: %s: no Docker API", component)
	}
	id, err := s.docker.Find(ctx, s.o.Project, component)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.containers[component] = id
	s.mu.Unlock()
	return id, nil
}

// waitReady waits until every service answers /readyz 200.
func (s *System) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(s.o.ReadyTimeout)
	for _, c := range topology.Components() {
		if topology.KindOf(c) != topology.KindService {
			continue
		}
		for {
			err := Ready(ctx, s.Direct(c))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("compose: %s not ready within %v: %w", c, s.o.ReadyTimeout, err)
			}
			if err := sleep(ctx, 250*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

var readyClient = &http.Client{Timeout: 2 * time.Second}

// Ready asks a service's /readyz; every backend that runs services in containers uses it.
func Ready(ctx context.Context, base string) error {
	if base == "" {
		return errors.New("no address")
	}
	return lab.GetJSON(ctx, readyClient, base+"/readyz", nil)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("compose: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// startForwarder relays the collector's (or the services') OTLP/HTTP requests to the runner's
// receiver, which listens on loopback inside the lab.
func (s *System) startForwarder() error {
	if s.o.OTLPListen == "" || s.lo.OTLPEndpoint == "" {
		return nil
	}
	f, err := StartForwarder(s.o.OTLPListen, s.lo.OTLPEndpoint)
	if err != nil {
		return err
	}
	s.fwd = f
	s.logf("compose: spans sent to %s go to %s", f.Addr(), s.lo.OTLPEndpoint)
	return nil
}

// Gateway returns the public API through the client->gateway proxy.
func (s *System) Gateway() string { return s.gateway }

// Direct returns how to reach a component bypassing every proxy.
func (s *System) Direct(component string) string {
	if !topology.IsComponent(component) {
		return ""
	}
	addr := net.JoinHostPort(component, strconv.Itoa(ContainerPort(component)))
	s.mu.Lock()
	h, ok := s.o.Hosts[component]
	s.mu.Unlock()
	if ok {
		addr = h
	}
	return lab.ComponentURL(component, addr, Database)
}

// Pid is the process serving component on this machine, 0 when unknown (no Engine API, or
// the lab in a PID namespace of its own): the runner reads its threads' waits for a CPU.
func (s *System) Pid(component string) int {
	if s.pids == nil {
		return 0
	}
	return s.pids.Pid(component)
}

// Env returns what faults act through: the stack's proxies and its containers.
func (s *System) Env() toxics.Env { return env{s} }

type env struct{ s *System }

func (e env) Proxy(edge string) (*toxiclient.Proxy, error) {
	return lab.LookupProxy(e.s.toxi, edge)
}

func (e env) Component(name string) (toxics.Controller, error) {
	if !topology.IsComponent(name) {
		return nil, fmt.Errorf("%w: component %q", lab.ErrUnknownTarget, name)
	}
	id, err := e.s.container(context.Background(), name)
	if err != nil {
		return nil, err
	}
	return &controller{s: e.s, name: name, id: id}, nil
}

// controller acts on one container through the Engine API.
type controller struct {
	s    *System
	name string
	id   string
}

func (c *controller) Kill(ctx context.Context) error {
	if err := c.s.docker.Kill(ctx, c.id); err != nil {
		return err
	}
	return c.waitFor(ctx, func(st ContainerState) bool { return !st.Running })
}

func (c *controller) Start(ctx context.Context) error {
	if err := c.s.docker.Start(ctx, c.id); err != nil {
		return err
	}
	c.s.refreshHost(ctx, c.name) // a restarted container may come back on another address
	if topology.KindOf(c.name) == topology.KindService {
		return c.waitFor(ctx, func(ContainerState) bool { return Ready(ctx, c.s.Direct(c.name)) == nil })
	}
	return c.waitFor(ctx, func(st ContainerState) bool { return st.Running && (st.Health == "" || st.Health == "healthy") })
}

func (c *controller) Pause(ctx context.Context) error  { return c.s.docker.Pause(ctx, c.id) }
func (c *controller) Resume(ctx context.Context) error { return c.s.docker.Unpause(ctx, c.id) }

func (c *controller) Running() bool {
	st, err := c.s.docker.Inspect(context.Background(), c.id)
	return err == nil && st.Running
}

func (c *controller) waitFor(ctx context.Context, ok func(ContainerState) bool) error {
	deadline := time.Now().Add(c.s.o.ReadyTimeout)
	for {
		st, err := c.s.docker.Inspect(ctx, c.id)
		if err == nil && ok(st) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("compose: %s: not as wanted within %v (last error: %v)", c.name, c.s.o.ReadyTimeout, err)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// HealAll removes every toxic, enables every proxy, unpauses paused containers and starts
// stopped ones.
func (s *System) HealAll(ctx context.Context) error {
	var errs []error
	for _, e := range topology.Edges() {
		p, err := s.toxi.Proxy(e.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("compose: heal %s: %w", e.Name, err))
			continue
		}
		for _, t := range p.ActiveToxics {
			if err := p.RemoveToxic(t.Name); err != nil {
				errs = append(errs, fmt.Errorf("compose: heal %s: %w", e.Name, err))
			}
		}
		if !p.Enabled {
			if err := p.Enable(); err != nil {
				errs = append(errs, fmt.Errorf("compose: heal %s: %w", e.Name, err))
			}
		}
	}
	if s.docker == nil {
		return errors.Join(errs...)
	}
	for _, name := range topology.Components() {
		id, err := s.container(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := s.docker.Inspect(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c := &controller{s: s, name: name, id: id}
		if st.Paused {
			if err := c.Resume(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if !st.Running {
			s.logf("compose: starting %s again", name)
			if err := c.Start(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close heals every fault, copies the services' logs of this run into Dir/logs (the runner
// reads breaker transitions there), waits for spans in flight and stops the forwarder. The
// stack keeps running. Idempotent.
func (s *System) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *System) close(ctx context.Context) error {
	var errs []error
	if s.gateway != "" {
		if err := s.HealAll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.ann != nil {
		s.ann.poll(ctx) // ends the regions of what was just healed, at heal time
		s.annCancel()
		<-s.annDone
		if n := s.ann.errs; n > 0 {
			s.logf("compose: %d Grafana annotation calls failed", n)
		}
	}
	if s.docker != nil && s.lo.Dir != "" {
		if err := s.collectLogs(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.fwd != nil {
		_ = sleep(ctx, s.o.Flush)
		s.fwd.Close(ctx)
	}
	return errors.Join(errs...)
}

func (s *System) collectLogs(ctx context.Context) error {
	dir := filepath.Join(s.lo.Dir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("compose: logs: %w", err)
	}
	var errs []error
	for _, c := range topology.Components() {
		id, err := s.container(ctx, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f, err := os.Create(filepath.Join(dir, c+".log"))
		if err != nil {
			errs = append(errs, fmt.Errorf("compose: logs: %w", err))
			continue
		}
		if err := s.docker.Logs(ctx, id, s.started, f); err != nil {
			errs = append(errs, fmt.Errorf("compose: logs of %s: %w", c, err))
		}
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// fwdAddr is the forwarder's listen address ("" without one).
func (s *System) fwdAddr() string {
	if s.fwd == nil {
		return ""
	}
	return s.fwd.Addr()
}
