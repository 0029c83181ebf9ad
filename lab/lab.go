package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/internal/cpulimit"
	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// Options configure a lab.
type Options struct {
	Dir          string    // run directory; logs go to Dir/logs. Empty: a temp dir that Close removes
	Profile      string    // resilience profile name or YAML path (default "default")
	Binary       string    // the faultline binary to re-execute (default os.Executable())
	OTLPEndpoint string    // OTEL_EXPORTER_OTLP_ENDPOINT for the services; empty = no export
	Log          io.Writer // progress lines; nil = silent
	ToxiproxyURL string    // use this Toxiproxy instead of one in-process
	// Components to start (default all, in topology order). Proxies exist for every edge.
	Components []string
	// StateDir holds the state files of running labs (default DefaultStateDir()).
	StateDir     string
	ReadyTimeout time.Duration // per component (default 30s)
	Database     string        // database name in both PostgreSQL servers (default "app")
	// Unproxied gives services the real addresses of their dependencies. Only to measure what
	// the proxies cost (faultline bench): faults on edges have no effect then.
	Unproxied bool
	// Deadman is how long faults injected from a console survive without a console or CLI
	// heartbeat (0 = ledger.DefaultDeadman, negative = never).
	Deadman time.Duration

	// CPUMethod forces how the cpu fault limits a component: "cgroup" or "duty-cycle"
	// (default: a cgroup quota where the machine allows one, else the duty cycle).
	CPUMethod string
}

// Lab is a running system with a proxy on every edge.
type Lab struct {
	o      Options
	dir    string // run dir
	ownDir bool   // dir is a temp dir of ours
	tmp    string // data of stores and services; always removed

	ports     map[string]int    // component -> real port ("nats-http" for NATS monitoring)
	proxyAddr map[string]string // edge -> proxy listen address

	tp        *toxiproxyServer // nil when external
	toxiURL   string
	toxi      *toxiclient.Client
	ctl       *http.Server
	ctlURL    string
	ctlDone   chan struct{}
	token     string // what mutating control calls must present; in the state file only
	statePath string
	stopWatch func() bool
	started   time.Time

	mu        sync.Mutex
	procs     map[string]*localserver.Server
	cpu       map[string]*cpulimit.Limit // CPU limits in force (cpu.go)
	stateMu   sync.Mutex
	stateGone bool

	ledger     *ledger.Ledger
	ledgerStop context.CancelFunc
	ledgerDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// ErrUnknownTarget is returned for a name that is neither an edge nor a started component.
var ErrUnknownTarget = errors.New("lab: unknown target")

// Start brings the system up and returns once every component is ready. The lab lives as
// long as ctx: cancelling it (Ctrl-C) tears everything down, as does Close. Pass a context
// that outlives the lab, not a start-up timeout. On error nothing is left behind.
func Start(ctx context.Context, o Options) (_ *Lab, err error) {
	begin := time.Now()
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if err := preflight(o); err != nil {
		return nil, err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	l := &Lab{o: o, procs: map[string]*localserver.Server{}, cpu: map[string]*cpulimit.Limit{}, started: begin, token: token}
	defer func() {
		if err != nil {
			if cerr := l.Close(context.WithoutCancel(ctx)); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	if err := CleanLeftovers(o.StateDir, o.Log); err != nil {
		l.logf("lab: cleaning leftovers: %v", err)
	}
	if err := l.makeDirs(); err != nil {
		return nil, err
	}
	// The state file exists from the first moment, so a SIGKILL during start-up is recoverable.
	if err := l.saveState(); err != nil {
		return nil, err
	}
	if err := l.allocatePorts(); err != nil {
		return nil, err
	}
	if err := l.startToxiproxy(ctx); err != nil {
		return nil, err
	}
	if err := l.startComponents(ctx); err != nil {
		return nil, err
	}
	l.startLedger()
	if err := l.startControl(); err != nil {
		return nil, err
	}
	if err := l.saveState(); err != nil {
		return nil, err
	}
	l.stopWatch = context.AfterFunc(ctx, func() { _ = l.Close(context.Background()) })
	l.logf("lab: ready in %v (gateway %s, toxiproxy %s, control %s)", time.Since(begin).Round(time.Millisecond), l.Gateway(), l.toxiURL, l.ctlURL)
	return l, nil
}

func (o *Options) defaults() error {
	if o.Profile == "" {
		o.Profile = "default"
	}
	if o.Database == "" {
		o.Database = "app"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir()
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Components == nil {
		o.Components = topology.Components()
	}
	for _, c := range o.Components {
		if !topology.IsComponent(c) {
			return fmt.Errorf("%w: component %q (known: %s)", ErrUnknownTarget, c, strings.Join(topology.Components(), ", "))
		}
	}
	needBinary := slices.ContainsFunc(o.Components, func(c string) bool {
		k := topology.KindOf(c)
		return k == topology.KindService || k == topology.KindNATS
	})
	if o.Binary == "" && needBinary {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("lab: find own binary: %w", err)
		}
		o.Binary = exe
	}
	if needBinary {
		abs, err := filepath.Abs(o.Binary)
		if err != nil {
			return fmt.Errorf("lab: binary: %w", err)
		}
		o.Binary = abs
	}
	// A profile file must be found from the children's working directory too.
	if _, err := os.Stat(o.Profile); err == nil {
		if abs, err := filepath.Abs(o.Profile); err == nil {
			o.Profile = abs
		}
	}
	return nil
}

// preflight finds every binary the selected components need before anything starts, so a
// missing package is one clear message naming it, not a half-started system.
func preflight(o Options) error {
	var errs []error
	need := map[string]bool{}
	for _, c := range o.Components {
		need[topology.KindOf(c)] = true
	}
	if need[topology.KindPostgres] {
		if _, err := localserver.PostgresBinDir(); err != nil {
			errs = append(errs, err)
		}
	}
	if need[topology.KindRedis] {
		if _, err := localserver.RedisBinary(); err != nil {
			errs = append(errs, err)
		}
	}
	if need[topology.KindService] || need[topology.KindNATS] {
		if fi, err := os.Stat(o.Binary); err != nil || fi.IsDir() {
			errs = append(errs, fmt.Errorf("%w: faultline binary %s (build it with `make build`)", localserver.ErrMissingBinary, o.Binary))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab: %w", errors.Join(errs...))
	}
	return nil
}

func (l *Lab) logf(format string, args ...any) { fmt.Fprintf(l.o.Log, format+"\n", args...) }

func (l *Lab) makeDirs() error {
	l.dir = l.o.Dir
	if l.dir == "" {
		d, err := os.MkdirTemp("", "faultline-lab-")
		if err != nil {
			return fmt.Errorf("lab: run dir: %w", err)
		}
		l.dir, l.ownDir = d, true
	}
	if err := os.MkdirAll(filepath.Join(l.dir, "logs"), 0o755); err != nil {
		return fmt.Errorf("lab: run dir: %w", err)
	}
	tmp, err := os.MkdirTemp(localserver.TempBase(), "faultline-data-")
	if err != nil {
		return fmt.Errorf("lab: data dir: %w", err)
	}
	// PostgreSQL runs as another user when we are root and must reach its directory.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("lab: data dir: %w", err)
	}
	l.tmp = tmp
	return nil
}

// allocatePorts picks every loopback port at once, holding them all open until the set is
// complete so no two are the same.
func (l *Lab) allocatePorts() error {
	names := slices.Clone(topology.Components())
	names = append(names, "nats-http", "toxiproxy", "control")
	for _, e := range topology.Edges() {
		names = append(names, "proxy:"+e.Name)
	}
	var ls []net.Listener
	defer func() {
		for _, ln := range ls {
			_ = ln.Close()
		}
	}()
	l.ports = map[string]int{}
	l.proxyAddr = map[string]string{}
	for _, n := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("lab: pick port: %w", err)
		}
		ls = append(ls, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		if edge, ok := strings.CutPrefix(n, "proxy:"); ok {
			l.proxyAddr[edge] = hostPort(port)
		} else {
			l.ports[n] = port
		}
	}
	return nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// addr is the real (unproxied) address of a component.
func (l *Lab) addr(component string) string { return hostPort(l.ports[component]) }

// Gateway returns the base URL of the gateway through the client->gateway proxy.
func (l *Lab) Gateway() string { return "http://" + l.proxyAddr["client->gateway"] }

// ProxyAddr returns the listen address of an edge's proxy ("" for an unknown edge).
func (l *Lab) ProxyAddr(edge string) string { return l.proxyAddr[edge] }

// Direct returns how to reach a component bypassing every proxy: a base URL for services,
// a DSN for PostgreSQL, redis:// and nats:// URLs for the others; "" when unknown.
func (l *Lab) Direct(component string) string {
	if !topology.IsComponent(component) {
		return ""
	}
	return ComponentURL(component, l.addr(component), l.o.Database)
}

// Endpoints returns what an operator or dashboard needs: gateway (through its proxy),
// toxiproxy and control URLs, each service's metrics URL (NAME_metrics) and unproxied base
// URL (NAME_direct), NATS (nats, nats_monitor) and each store's address (link-db, redis, …).
func (l *Lab) Endpoints() map[string]string {
	m := map[string]string{"gateway": l.Gateway(), "toxiproxy": l.toxiURL, "control": l.ctlURL}
	for _, c := range l.o.Components {
		switch topology.KindOf(c) {
		case topology.KindService:
			m[c+"_metrics"] = l.Direct(c) + "/metrics"
			m[c+"_direct"] = l.Direct(c)
		case topology.KindNATS:
			m["nats"] = l.Direct(c)
			m["nats_monitor"] = "http://" + hostPort(l.ports["nats-http"])
		default:
			m[c] = l.Direct(c)
		}
	}
	return m
}

// Dir returns the run directory.
func (l *Lab) Dir() string { return l.dir }

// Env returns the toxics.Env that faults act through.
func (l *Lab) Env() toxics.Env { return labEnv{l} }

type labEnv struct{ l *Lab }

func (e labEnv) Proxy(edge string) (*toxiclient.Proxy, error) {
	return LookupProxy(e.l.toxi, edge)
}

func (e labEnv) Component(name string) (toxics.Controller, error) {
	s := e.l.proc(name)
	if s == nil {
		return nil, fmt.Errorf("%w: component %q is not running in this lab", ErrUnknownTarget, name)
	}
	return controller{e.l, s}, nil
}

// Pid is the process id of a running component, 0 when it is not running.
func (l *Lab) Pid(component string) int {
	if s := l.proc(component); s != nil {
		return s.Pid()
	}
	return 0
}

func (l *Lab) proc(name string) *localserver.Server {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.procs[name]
}

// controller keeps the state file's pids current as processes die and start.
type controller struct {
	l *Lab
	s *localserver.Server
}

func (c controller) Kill(ctx context.Context) error {
	err := c.s.Kill(ctx)
	_ = c.l.saveState()
	return err
}

func (c controller) Start(ctx context.Context) error {
	err := c.s.Start(ctx)
	_ = c.l.saveState()
	return err
}

func (c controller) Pause(ctx context.Context) error  { return c.s.Pause(ctx) }
func (c controller) Resume(ctx context.Context) error { return c.s.Resume(ctx) }
func (c controller) Running() bool                    { return c.s.Running() }

// HealAll removes every toxic, enables every proxy, resumes paused components and restarts
// crashed ones.
func (l *Lab) HealAll(ctx context.Context) error { return l.Heal(ctx, "") }

// Heal heals one edge or component, or everything when target is "".
func (l *Lab) Heal(ctx context.Context, target string) error {
	var errs []error
	healed := false
	for _, e := range topology.Edges() {
		if target == "" || target == e.Name {
			healed = true
			if err := healProxy(l.toxi, e.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, c := range l.o.Components {
		if target != "" && target != c {
			continue
		}
		healed = true
		if err := l.liftCPU(c); err != nil {
			errs = append(errs, err)
		}
		s := l.proc(c)
		if s == nil {
			continue
		}
		if s.Paused() {
			if err := s.Resume(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if !s.Running() {
			if err := (controller{l, s}).Start(ctx); err != nil {
				errs = append(errs, fmt.Errorf("lab: restart %s: %w", c, err))
			}
		}
	}
	if !healed {
		return fmt.Errorf("%w: %q", ErrUnknownTarget, target)
	}
	return errors.Join(errs...)
}

// healProxy removes every toxic of one proxy and enables it.
func healProxy(c *toxiclient.Client, edge string) error {
	p, err := c.Proxy(edge)
	if err != nil {
		return fmt.Errorf("lab: heal %s: %w", edge, err)
	}
	var errs []error
	for _, t := range p.ActiveToxics {
		if err := p.RemoveToxic(t.Name); err != nil {
			errs = append(errs, fmt.Errorf("lab: heal %s: remove %s: %w", edge, t.Name, err))
		}
	}
	if !p.Enabled {
		if err := p.Enable(); err != nil {
			errs = append(errs, fmt.Errorf("lab: heal %s: enable: %w", edge, err))
		}
	}
	return errors.Join(errs...)
}

// Close tears everything down: processes (services first, stores last), the proxies and the
// Toxiproxy server, the control endpoint, temp dirs and the state file. Idempotent.
func (l *Lab) Close(ctx context.Context) error {
	l.closeOnce.Do(func() { l.closeErr = l.close(ctx) })
	return l.closeErr
}

// stopGroups is the teardown order, callers first, so nobody logs errors about a store that
// went away before them; the members of a group stop together.
var stopGroups = [][]string{{"gateway"}, {"redirect", "analytics"}, {"link"}, {"billing"}, {"nats", "redis", "link-db", "analytics-db"}}

func (l *Lab) close(ctx context.Context) error {
	if l.stopWatch != nil {
		l.stopWatch()
	}
	var errs []error
	if l.ctl != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if err := l.ctl.Shutdown(sctx); err != nil {
			_ = l.ctl.Close()
		}
		cancel()
		<-l.ctlDone
	}
	l.stopLedger()

	if err := l.liftCPU(""); err != nil {
		errs = append(errs, err)
	}
	for _, g := range stopGroups {
		var wg sync.WaitGroup
		var emu sync.Mutex
		for _, name := range g {
			s := l.proc(name)
			if s == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Stop(); err != nil {
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	if l.tp != nil {
		if err := l.tp.stop(); err != nil {
			errs = append(errs, err)
		}
	} else if l.toxi != nil {
		for _, e := range topology.Edges() {
			if p, err := l.toxi.Proxy(e.Name); err == nil {
				_ = p.Delete()
			}
		}
	}
	for _, d := range []string{l.tmp, ownDir(l)} {
		if d != "" {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, fmt.Errorf("lab: remove %s: %w", d, err))
			}
		}
	}
	l.stateMu.Lock()
	l.stateGone = true
	if l.statePath != "" {
		if err := os.Remove(l.statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	l.stateMu.Unlock()
	l.logf("lab: stopped")
	return errors.Join(errs...)
}

func ownDir(l *Lab) string {
	if l.ownDir {
		return l.dir
	}
	return ""
}
