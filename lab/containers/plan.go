// Package containers runs the system's topology in Docker containers with testcontainers-go:
// the same images, proxies and configuration as docker-compose.yml, started and torn down per
// run, for CI runners that have Docker but not the Debian packages.
package containers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/compose"
	"github.com/faultline/faultline/system/topology"
)

// Images and defaults, the same as docker-compose.yml's.
const (
	DefaultImage   = "faultline:local"
	ToxiproxyImage = "ghcr.io/shopify/toxiproxy:2.12.0"
	PostgresImage  = "postgres:15"
	RedisImage     = "redis:7"

	toxiproxyAlias = compose.ToxiproxyService
	profileInImage = "/etc/faultline/profile.yaml"
	// hostAlias is how a container reaches a host port testcontainers exposes (HostAccessPorts).
	hostAlias = "host.testcontainers.internal"
)

// Options configure the containers backend.
type Options struct {
	Image        string        // the faultline image for NATS and the services (default $FAULTLINE_IMAGE, else DefaultImage)
	ReadyTimeout time.Duration // per container (default 90s: images may be pulled)
}

func (o *Options) defaults(getenv func(string) string) {
	if o.Image == "" {
		o.Image = getenv("FAULTLINE_IMAGE")
	}
	if o.Image == "" {
		o.Image = DefaultImage
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
// topology order), on network netName. It needs no Docker, so it is unit-tested.
func Plan(o Options, lo lab.Options, netName string) ([]Spec, error) {
	o.defaults(os.Getenv)
	if lo.Profile == "" {
		lo.Profile = "default"
	}
	var otlpPort int
	if lo.OTLPEndpoint != "" {
		u, err := url.Parse(lo.OTLPEndpoint)
		if err != nil || u.Port() == "" {
			return nil, fmt.Errorf("containers: otlp endpoint %q: want http://host:port", lo.OTLPEndpoint)
		}
		if otlpPort, err = strconv.Atoi(u.Port()); err != nil {
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
		}
	}
	tp := base(toxiproxyAlias)
	tp.Image = ToxiproxyImage
	tp.Cmd = []string{"-host=0.0.0.0", "-config=/config/toxiproxy.json"}
	tp.Files = []testcontainers.ContainerFile{{Reader: bytes.NewReader(proxies), ContainerFilePath: "/config/toxiproxy.json", FileMode: 0o644}}
	tp.ExposedPorts = []string{port(compose.ToxiproxyAPIPort), port(compose.ProxyPort("client->gateway"))}
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
			r.Image = PostgresImage
			r.Env = map[string]string{"POSTGRES_DB": compose.Database, "POSTGRES_HOST_AUTH_METHOD": "trust"}
			r.ExposedPorts = []string{port(5432)}
			// The image restarts the server once after initdb: ready is the second message.
			r.WaitingFor = wait.ForAll(
				wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
				wait.ForListeningPort(port(5432)),
			).WithDeadline(o.ReadyTimeout)
		case topology.KindRedis:
			r.Image = RedisImage
			r.Cmd = []string{"redis-server", "--save", "", "--appendonly", "no"}
			r.ExposedPorts = []string{port(6379)}
			r.WaitingFor = wait.ForListeningPort(port(6379)).WithStartupTimeout(o.ReadyTimeout)
		case topology.KindNATS:
			r.Image = o.Image
			r.Cmd = []string{"serve", "nats", "--listen", "0.0.0.0:4222", "--store-dir", "/data/nats",
				"--http-listen", net.JoinHostPort("0.0.0.0", strconv.Itoa(compose.NATSMonitorPort))}
			r.ExposedPorts = []string{port(4222), port(compose.NATSMonitorPort)}
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
			if otlpPort != 0 {
				r.HostAccessPorts = []int{otlpPort}
				r.Env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + net.JoinHostPort(hostAlias, strconv.Itoa(otlpPort))
			}
			if profileFile != nil {
				r.Files = []testcontainers.ContainerFile{{Reader: bytes.NewReader(profileFile), ContainerFilePath: profileInImage, FileMode: 0o644}}
			}
			r.ExposedPorts = []string{port(compose.ServicePort)}
			r.WaitingFor = wait.ForHTTP("/readyz").WithPort(port(compose.ServicePort)).WithStartupTimeout(o.ReadyTimeout)
		}
		specs = append(specs, Spec{c, r})
	}
	return specs, nil
}

func port(n int) string { return strconv.Itoa(n) + "/tcp" }
