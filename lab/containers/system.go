package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/compose"
	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// System is the topology running in containers; it satisfies the runner's System.
type System struct {
	o       Options
	lo      lab.Options
	net     *testcontainers.DockerNetwork
	docker  *testcontainers.DockerClient
	toxi    *toxiclient.Client
	gateway string
	fwd     *compose.Forwarder // spans from the network to the runner's receiver

	mu         sync.Mutex
	containers map[string]testcontainers.Container
	pids       *compose.HostPids

	closeOnce sync.Once
	closeErr  error
}

// Start starts every container of Plan on a new network and returns once each is ready. On
// error nothing is left behind.
func Start(ctx context.Context, o Options, lo lab.Options) (_ *System, err error) {
	o.defaults(os.Getenv)
	notice := lo.Log // the reaper notice must reach the user even when progress is silent
	if notice == nil {
		notice = os.Stderr
	}
	if lo.Log == nil {
		lo.Log = io.Discard
	}
	s := &System{o: o, lo: lo, containers: map[string]testcontainers.Container{}}
	s.pids = compose.NewHostPids(func(ctx context.Context, component string) (int, error) {
		c := s.container(component)
		if c == nil {
			return 0, fmt.Errorf("containers: %s: no container", component)
		}
		st, err := c.State(ctx)
		if err != nil {
			return 0, err
		}
		return st.Pid, nil
	})
	defer func() {
		if err != nil {
			if cerr := s.Close(context.WithoutCancel(ctx)); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	reaperOff(ctx, notice)
	loopbackHost()
	if s.docker, err = testcontainers.NewDockerClientWithOpts(ctx); err != nil {
		return nil, fmt.Errorf("containers: docker: %w", err)
	}
	if s.net, err = network.New(ctx); err != nil {
		return nil, fmt.Errorf("containers: network: %w", err)
	}
	planned := lo
	if lo.OTLPEndpoint != "" {
		// The services reach the host at the network's gateway; the forwarder listens there
		// (not on every interface) and relays to the receiver on the lab's loopback.
		gw, err := s.gatewayIP(ctx)
		if err != nil {
			return nil, err
		}
		if s.fwd, err = compose.StartForwarder(net.JoinHostPort(gw, "0"), lo.OTLPEndpoint); err != nil {
			return nil, fmt.Errorf("containers: %w", err)
		}
		planned.OTLPEndpoint = "http://" + s.fwd.Addr()
	}
	specs, err := Plan(o, planned, s.net.Name)
	if err != nil {
		return nil, err
	}
	for _, sp := range specs {
		begin := time.Now()
		c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: sp.Request, Started: true})
		if c != nil {
			s.mu.Lock()
			s.containers[sp.Name] = c
			s.mu.Unlock()
		}
		if err != nil {
			return nil, fmt.Errorf("containers: start %s: %w", sp.Name, err)
		}
		fmt.Fprintf(lo.Log, "containers: %-12s ready in %v\n", sp.Name, time.Since(begin).Round(time.Millisecond))
		if sp.Name == toxiproxyAlias {
			if err := s.attachToxiproxy(ctx, c); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *System) attachToxiproxy(ctx context.Context, c testcontainers.Container) error {
	api, err := hostAddr(ctx, c, compose.ToxiproxyAPIPort)
	if err != nil {
		return err
	}
	gw, err := hostAddr(ctx, c, compose.ProxyPort("client->gateway"))
	if err != nil {
		return err
	}
	s.toxi = toxiclient.NewClient("http://" + api)
	s.gateway = "http://" + gw
	return nil
}

// hostAddr is where the host reaches a container port (it can change when the container restarts).
func hostAddr(ctx context.Context, c testcontainers.Container, containerPort int) (string, error) {
	host, err := c.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("containers: host: %w", err)
	}
	p, err := c.MappedPort(ctx, port(containerPort))
	if err != nil {
		return "", fmt.Errorf("containers: port %d: %w", containerPort, err)
	}
	return net.JoinHostPort(host, p.Port()), nil
}

func (s *System) container(name string) testcontainers.Container {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.containers[name]
}

// Gateway returns the public API through the client->gateway proxy (a host port).
func (s *System) Gateway() string { return s.gateway }

// Direct returns a component's host address bypassing every proxy ("" when unknown or down).
func (s *System) Direct(component string) string {
	c := s.container(component)
	if c == nil {
		return ""
	}
	addr, err := hostAddr(context.Background(), c, compose.ContainerPort(component))
	if err != nil {
		return ""
	}
	return lab.ComponentURL(component, addr, compose.Database)
}

// Pid is the process serving component on this machine, 0 when unknown (the lab in a PID
// namespace of its own): the runner reads its threads' waits for a CPU.
func (s *System) Pid(component string) int { return s.pids.Pid(component) }

// Env returns what faults act through: Toxiproxy's API and the containers.
func (s *System) Env() toxics.Env { return env{s} }

type env struct{ s *System }

func (e env) Proxy(edge string) (*toxiclient.Proxy, error) {
	return lab.LookupProxy(e.s.toxi, edge)
}

func (e env) Component(name string) (toxics.Controller, error) {
	c := e.s.container(name)
	if c == nil || !topology.IsComponent(name) {
		return nil, fmt.Errorf("%w: component %q is not running in this lab", lab.ErrUnknownTarget, name)
	}
	return &controller{s: e.s, name: name, c: c}, nil
}

type controller struct {
	s    *System
	name string
	c    testcontainers.Container
}

func (c *controller) Kill(ctx context.Context) error {
	if _, err := c.s.docker.ContainerKill(ctx, c.c.GetContainerID(), client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		return fmt.Errorf("containers: kill %s: %w", c.name, err)
	}
	return c.waitFor(ctx, func() bool { return !c.Running() })
}

// Start starts the container again; its wait strategy runs again, so it returns once ready.
func (c *controller) Start(ctx context.Context) error {
	if err := c.c.Start(ctx); err != nil {
		return fmt.Errorf("containers: start %s: %w", c.name, err)
	}
	if topology.KindOf(c.name) != topology.KindService {
		return nil
	}
	return c.waitFor(ctx, func() bool { return compose.Ready(ctx, c.s.Direct(c.name)) == nil })
}

func (c *controller) Pause(ctx context.Context) error {
	if _, err := c.s.docker.ContainerPause(ctx, c.c.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("containers: pause %s: %w", c.name, err)
	}
	return nil
}

func (c *controller) Resume(ctx context.Context) error {
	if _, err := c.s.docker.ContainerUnpause(ctx, c.c.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("containers: unpause %s: %w", c.name, err)
	}
	return nil
}

func (c *controller) Running() bool {
	st, err := c.c.State(context.Background())
	return err == nil && st.Running
}

func (c *controller) waitFor(ctx context.Context, ok func() bool) error {
	deadline := time.Now().Add(c.s.o.ReadyTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("containers: %s: not as wanted within %v", c.name, c.s.o.ReadyTimeout)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("containers: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close stops the services first (SIGTERM: they flush spans), copies every container's log to
// Dir/logs, removes the containers and the network. Idempotent.
func (s *System) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

// stopOrder stops callers before what they call, as the process backend does.
var stopOrder = []string{"gateway", "redirect", "analytics", "link", "billing", "nats", "redis", "link-db", "analytics-db"}

func (s *System) close(ctx context.Context) error {
	var errs []error
	grace := 10 * time.Second
	for _, name := range append(slices.Clone(stopOrder), toxiproxyAlias) {
		c := s.container(name)
		if c == nil {
			continue
		}
		if err := c.Stop(ctx, &grace); err != nil {
			errs = append(errs, fmt.Errorf("containers: stop %s: %w", name, err))
		}
		if s.lo.Dir != "" {
			if err := saveLog(ctx, c, filepath.Join(s.lo.Dir, "logs", name+".log")); err != nil {
				errs = append(errs, err)
			}
		}
		if err := c.Terminate(ctx); err != nil {
			errs = append(errs, fmt.Errorf("containers: remove %s: %w", name, err))
		}
	}
	if s.fwd != nil {
		s.fwd.Close(ctx) // after the services stopped: their last spans went through it
	}
	if s.net != nil {
		if err := s.net.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("containers: remove network: %w", err))
		}
	}
	if s.docker != nil {
		_ = s.docker.Close()
	}
	return errors.Join(errs...)
}

func saveLog(ctx context.Context, c testcontainers.Container, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("containers: logs: %w", err)
	}
	r, err := c.Logs(ctx)
	if err != nil {
		return fmt.Errorf("containers: logs of %s: %w", filepath.Base(path), err)
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("containers: logs: %w", err)
	}
	_, cerr := io.Copy(f, io.LimitReader(r, 256<<20))
	return errors.Join(cerr, f.Close())
}

// gatewayIP is the host's address on the run's network.
func (s *System) gatewayIP(ctx context.Context) (string, error) {
	res, err := s.docker.NetworkInspect(ctx, s.net.ID, client.NetworkInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("containers: inspect network: %w", err)
	}
	for _, c := range res.Network.IPAM.Config {
		if c.Gateway.IsValid() && c.Gateway.Is4() {
			return c.Gateway.String(), nil
		}
	}
	return "", fmt.Errorf("containers: network %s has no IPv4 gateway", s.net.Name)
}
