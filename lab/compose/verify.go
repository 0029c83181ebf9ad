package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/system/topology"
)

// ProxyConfig is one entry of a Toxiproxy config file (toxiproxy-server -config), the format
// deploy/toxiproxy.json uses.
type ProxyConfig struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  bool   `json:"enabled"`
}

// ToxiproxyService is the compose service that holds every edge's proxy.
const ToxiproxyService = "toxiproxy"

// ErrDrift marks a compose file or proxy config that does not match the lab's topology.
var ErrDrift = errors.New("compose: does not match the topology")

// ReadProxies reads a Toxiproxy config file.
func ReadProxies(path string) ([]ProxyConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	var ps []ProxyConfig
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, fmt.Errorf("compose: %s: %w", path, err)
	}
	return ps, nil
}

// LoadProject loads and validates a compose file with the compose-spec library, every profile
// enabled (the lab service is behind profile "lab").
func LoadProject(ctx context.Context, file string) (*types.Project, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	opts, err := cli.NewProjectOptions([]string{abs}, cli.WithName("faultline"),
		cli.WithWorkingDirectory(filepath.Dir(abs)), cli.WithProfiles([]string{"*"}))
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("compose: load %s: %w", file, err)
	}
	return p, nil
}

// ProxyPorts maps each proxy's name to its listen port.
func ProxyPorts(proxies []ProxyConfig) (map[string]int, error) {
	out := map[string]int{}
	for _, p := range proxies {
		_, port, err := net.SplitHostPort(p.Listen)
		if err != nil {
			return nil, fmt.Errorf("%w: proxy %s: listen %q: %v", ErrDrift, p.Name, p.Listen, err)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("%w: proxy %s: listen port %q", ErrDrift, p.Name, port)
		}
		out[p.Name] = n
	}
	return out, nil
}

// Verify checks a compose project and its Toxiproxy config against the lab's topology: one
// enabled proxy per edge (named after it, upstream = the callee's container port), a service
// per component with a health check, every caller's variables pointing at its edges' proxies
// (never the real address), depends_on the health of its store, NATS and Toxiproxy and the start of
// the services it calls, loopback-only published ports.
// It returns every mismatch at once.
func Verify(p *types.Project, proxies []ProxyConfig) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrDrift}, args...)...))
	}

	ports, err := ProxyPorts(proxies)
	if err != nil {
		return err
	}
	edges := topology.Edges()
	seenPort := map[int]string{}
	for _, px := range proxies {
		if !topology.IsEdge(px.Name) {
			bad("proxy %q is not an edge of the topology", px.Name)
			continue
		}
		if other, dup := seenPort[ports[px.Name]]; dup {
			bad("proxies %s and %s both listen on %d", other, px.Name, ports[px.Name])
		}
		seenPort[ports[px.Name]] = px.Name
		if !px.Enabled {
			bad("proxy %s is disabled at start", px.Name)
		}
	}
	for _, e := range edges {
		i := slices.IndexFunc(proxies, func(px ProxyConfig) bool { return px.Name == e.Name })
		if i < 0 {
			bad("edge %s has no proxy", e.Name)
			continue
		}
		want := net.JoinHostPort(e.To, strconv.Itoa(ContainerPort(e.To)))
		if proxies[i].Upstream != want {
			bad("proxy %s: upstream %q, want %q", e.Name, proxies[i].Upstream, want)
		}
	}

	if _, ok := p.Services[ToxiproxyService]; !ok {
		bad("no %s service", ToxiproxyService)
	}
	for _, c := range topology.Components() {
		svc, ok := p.Services[c]
		if !ok {
			bad("component %s has no service", c)
			continue
		}
		if svc.HealthCheck == nil || svc.HealthCheck.Disable || len(svc.HealthCheck.Test) == 0 {
			bad("service %s has no health check", c)
		}
		if topology.KindOf(c) == topology.KindPostgres {
			if want := append([]string{"postgres"}, localserver.PostgresLabArgs()...); !slices.Equal(svc.Command, want) {
				bad("service %s: command %q, want %q (the lab's PostgreSQL settings, as on every backend)", c, svc.Command, want)
			}
		}
		if topology.KindOf(c) == topology.KindService {
			if svc.HealthCheck != nil && slices.ContainsFunc(svc.HealthCheck.Test, func(arg string) bool { return strings.Contains(arg, "/readyz") }) {
				bad("service %s: its health check asks /readyz, which probes its callees through their proxies every interval (that traffic lands in a run's measurements); ask /healthz", c)
			}
			if want := []string{"serve", c}; !slices.Equal(svc.Command, want) {
				bad("service %s: command %q, want %q", c, svc.Command, want)
			}
			if got := envValue(svc, "OTEL_SERVICE_NAME"); got != c {
				bad("service %s: OTEL_SERVICE_NAME %q", c, got)
			}
		}
		for k, want := range ServiceEnv(c, ToxiproxyService, func(edge string) int { return ports[edge] }) {
			if got := envValue(svc, k); got != want {
				bad("service %s: %s=%q, want %q (the proxy of its edge)", c, k, got, want)
			}
		}
		callees := Callees(c)
		if len(callees) > 0 {
			callees = append(callees, ToxiproxyService)
		}
		for _, dep := range callees {
			// What a service cannot start without (Toxiproxy, its store, NATS) must be healthy
			// first; a service it calls is called lazily through its proxy, and waiting for
			// each callee's health chained the health-check intervals (up --wait 35 s).
			want := types.ServiceConditionHealthy
			if topology.KindOf(dep) == topology.KindService {
				want = types.ServiceConditionStarted
			}
			d, ok := svc.DependsOn[dep]
			if !ok {
				bad("service %s does not depend on %s", c, dep)
			} else if d.Condition != want {
				bad("service %s depends on %s with condition %q, want %s", c, dep, d.Condition, want)
			}
		}
	}
	// Health checks with one interval run in step (a container turns healthy on a probe tick and
	// its dependants start right then): their docker execs land together, a burst of engine CPU
	// every interval that the services' slowest calls clustered on (docs/deploy.md).
	byInterval := map[types.Duration][]string{}
	for name, svc := range p.Services {
		if hc := svc.HealthCheck; hc != nil && !hc.Disable && len(hc.Test) > 0 {
			iv := types.Duration(30 * time.Second) // Docker's default
			if hc.Interval != nil {
				iv = *hc.Interval
			}
			byInterval[iv] = append(byInterval[iv], name)
		}
	}
	for iv, names := range byInterval {
		if len(names) > 1 {
			slices.Sort(names)
			bad("services %s share the health-check interval %s: their checks run in step; give each its own", strings.Join(names, ", "), time.Duration(iv))
		}
	}
	for name, svc := range p.Services {
		for _, port := range svc.Ports {
			if port.HostIP != "127.0.0.1" {
				bad("service %s publishes port %d on %q: loopback only", name, port.Target, port.HostIP)
			}
		}
	}
	gw, ok := p.Services[ToxiproxyService]
	if ok && !slices.ContainsFunc(gw.Ports, func(sp types.ServicePortConfig) bool { return int(sp.Target) == ports["client->gateway"] }) {
		bad("the client->gateway proxy (port %d) is not published", ports["client->gateway"])
	}
	return errors.Join(errs...)
}

func envValue(svc types.ServiceConfig, key string) string {
	v, ok := svc.Environment[key]
	if !ok || v == nil {
		return ""
	}
	return strings.TrimSpace(*v)
}
