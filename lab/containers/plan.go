// Package containers runs the system's topology in Docker containers with testcontainers-go:
// the same images, proxies and configuration as docker-compose.yml, started and torn down per
// run, for CI runners that have Docker but not the Debian packages.
package containers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/compose"
	"github.com/faultline/faultline/system/topology"
)

// Images and defaults, the same as docker-compose.yml's (and chosen by the same variables:
// FAULTLINE_IMAGE, TOXIPROXY_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE).
const (
	DefaultImage   = "faultline:local"
	ToxiproxyImage = "ghcr.io/shopify/toxiproxy:2.12.0"
	PostgresImage  = "postgres:15"
	RedisImage     = "redis:7"

	toxiproxyAlias = compose.ToxiproxyService
	profileInImage = "/etc/faultline/profile.yaml"
)

// Options configure the containers backend.
type Options struct {
	Image          string        // the faultline image for NATS and the services (default $FAULTLINE_IMAGE, else DefaultImage)
	ToxiproxyImage string        // default $TOXIPROXY_IMAGE, else ToxiproxyImage
	PostgresImage  string        // default $POSTGRES_IMAGE, else PostgresImage
	RedisImage     string        // default $REDIS_IMAGE, else RedisImage
	ReadyTimeout   time.Duration // per container (default 90s: images may be pulled)
}

func (o *Options) defaults(getenv func(string) string) {
	if o.Image == "" {
		o.Image = getenv("FAULTLINE_IMAGE")
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	for _, d := range []struct {
		field         *string
		env, upstream string
	}{{&o.ToxiproxyImage, "TOXIPROXY_IMAGE", ToxiproxyImage}, {&o.PostgresImage, "POSTGRES_IMAGE", PostgresImage}, {&o.RedisImage, "REDIS_IMAGE", RedisImage}} {
		if *d.field == "" {
			*d.field = getenv(d.env)
		}
		if *d.field == "" {
			*d.field = d.upstream
		}
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 90 * time.Second
	}
}

// Spec is one container of the plan: the component (or "toxiproxy") and its request.
type Spec struct {
	Name    string
	Request testcontainers.ContainerRequest
}

// Plan returns the containers to start, in order (Toxiproxy, then the components in
// topology order), on network netName. lo.OTLPEndpoint is where the services export spans,
// as seen from the network (the backend's forwarder on the network's gateway). Every port is
// published on 127.0.0.1 only. It needs no Docker, so it is unit-tested.
func Plan(o Options, lo lab.Options, netName string) ([]Spec, error) {
	o.defaults(os.Getenv)
	if lo.Profile == "" {
		lo.Profile = "default"
	}
	if lo.OTLPEndpoint != "" {
		u, err := url.Parse(lo.OTLPEndpoint)
		if err != nil || u.Hostname() == "" || u.Port() == "" {
			return nil, fmt.Errorf("containers: otlp endpoint %q: want http://host:port", lo.OTLPEndpoint)
		}
		if _, err := strconv.Atoi(u.Port()); err != nil {
			return nil, fmt.Errorf("containers: otlp endpoint %q: %w", lo.OTLPEndpoint, err)
		}
	}
	proxies, err := json.Marshal(compose.ProxyConfigs())
	if err != nil {
		return nil, fmt.Errorf("containers: %w", err)
	}
	base := func(name string) testcontainers.ContainerRequest {
		return testcontainers.ContainerRequest{
			Networks:       []string{netName},
			NetworkAliases: map[string][]string{netName: {name}},
			Labels:         map[string]string{"org.faultline.component": name},
			// Published on loopback only, like the compose file's ports.
			HostConfigModifier: func(hc *container.HostConfig) {
				if hc.PortBindings == nil {
					hc.PortBindings = network.PortMap{}
				}
				for _, p := range hostPorts(name) {
					hc.PortBindings[network.MustParsePort(p)] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "0"}}
				}
			},
		}
	}
	tp := base(toxiproxyAlias)
	tp.Image = o.ToxiproxyImage
	tp.Cmd = []string{"-host=0.0.0.0", "-config=/config/toxiproxy.json"}
	tp.Files = []testcontainers.ContainerFile{{Reader: bytes.NewReader(proxies), ContainerFilePath: "/config/toxiproxy.json", FileMode: 0o644}}
	tp.ExposedPorts = hostPorts(toxiproxyAlias)
	tp.WaitingFor = wait.ForHTTP("/proxies").WithPort(port(compose.ToxiproxyAPIPort)).WithStartupTimeout(o.ReadyTimeout)
	specs := []Spec{{toxiproxyAlias, tp}}

	var profileFile []byte
	profile := lo.Profile
	if b, err := os.ReadFile(lo.Profile); err == nil {
		profileFile, profile = b, profileInImage
	}
	for _, c := range topology.Components() {
		r := base(c)
		switch topology.KindOf(c) {
		case topology.KindPostgres:
			r.Image = o.PostgresImage
			r.Env = map[string]string{"POSTGRES_DB": compose.Database, "POSTGRES_HOST_AUTH_METHOD": "trust"}
			r.Cmd = append([]string{"postgres"}, localserver.PostgresLabArgs()...) // as every backend's
			r.ExposedPorts = hostPorts(c)
			// The image restarts the server once after initdb: ready is the second message.
			r.WaitingFor = wait.ForAll(
				wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
				wait.ForListeningPort(port(5432)),
			).WithDeadline(o.ReadyTimeout)
		case topology.KindRedis:
			r.Image = o.RedisImage
			r.Cmd = []string{"redis-server", "--save", "", "--appendonly", "no"}
			r.ExposedPorts = hostPorts(c)
			r.WaitingFor = wait.ForListeningPort(port(6379)).WithStartupTimeout(o.ReadyTimeout)
		case topology.KindNATS:
			r.Image = o.Image
			r.Cmd = []string{"serve", "nats", "--listen", "0.0.0.0:4222", "--store-dir", "/data/nats",
				"--http-listen", net.JoinHostPort("0.0.0.0", strconv.Itoa(compose.NATSMonitorPort))}
			r.ExposedPorts = hostPorts(c)
			r.WaitingFor = wait.ForHTTP("/healthz").WithPort(port(compose.NATSMonitorPort)).WithStartupTimeout(o.ReadyTimeout)
		default:
			r.Image = o.Image
			r.Cmd = []string{"serve", c}
			r.Env = map[string]string{
				"LISTEN_ADDR":        net.JoinHostPort("0.0.0.0", strconv.Itoa(compose.ServicePort)),
				"RESILIENCE_PROFILE": profile,
				"LOG_FORMAT":         "json",
				"OTEL_SERVICE_NAME":  c,
			}
			for k, v := range compose.ServiceEnv(c, toxiproxyAlias, compose.ProxyPort) {
				r.Env[k] = v
			}
			if c == "billing" {
				r.Env["SQLITE_PATH"] = "/data/billing.db"
			}
			if lo.OTLPEndpoint != "" {
				r.Env["OTEL_EXPORTER_OTLP_ENDPOINT"] = lo.OTLPEndpoint
			}
			if profileFile != nil {
				r.Files = []testcontainers.ContainerFile{{Reader: bytes.NewReader(profileFile), ContainerFilePath: profileInImage, FileMode: 0o644}}
			}
			r.ExposedPorts = hostPorts(c)
			r.WaitingFor = wait.ForHTTP("/readyz").WithPort(port(compose.ServicePort)).WithStartupTimeout(o.ReadyTimeout)
		}
		specs = append(specs, Spec{c, r})
	}
	return specs, nil
}

func port(n int) string { return strconv.Itoa(n) + "/tcp" }

// hostPorts are the container ports of a plan entry that the host reaches (ExposedPorts).
func hostPorts(name string) []string {
	switch {
	case name == toxiproxyAlias:
		return []string{port(compose.ToxiproxyAPIPort), port(compose.ProxyPort("client->gateway"))}
	case topology.KindOf(name) == topology.KindNATS:
		return []string{port(compose.ContainerPort(name)), port(compose.NATSMonitorPort)}
	}
	return []string{port(compose.ContainerPort(name))}
}
