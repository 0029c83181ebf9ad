// Package compose runs the lab against a docker compose stack of the system (a backend for the
// runner) and checks the compose file against the lab's topology, so the two cannot drift.
package compose

import (
	"net"
	"strconv"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/system/topology"
)

// Database is the database name in both PostgreSQL servers of the stack.
const Database = "app"

// ServicePort is the port every service (and the lab's OTLP forwarder) listens on in its container.
const ServicePort = 8080

// NATSMonitorPort serves NATS's /healthz in its container.
const NATSMonitorPort = 8222

// ToxiproxyAPIPort is Toxiproxy's API port.
const ToxiproxyAPIPort = 8474

// ContainerPort is the port a component listens on inside its container.
func ContainerPort(component string) int {
	switch topology.KindOf(component) {
	case topology.KindPostgres:
		return 5432
	case topology.KindRedis:
		return 6379
	case topology.KindNATS:
		return 4222
	}
	return ServicePort
}

// EdgeValue is what the caller's environment variable holds for an edge whose proxy is at
// host:port, in the form the protocol's client expects (as the process backend does).
func EdgeValue(e topology.Edge, host string, port int) string {
	return lab.EdgeURL(e, net.JoinHostPort(host, strconv.Itoa(port)), Database)
}

// ServiceEnv is the edge configuration of one component: for every edge it calls, its
// variable pointing at the edge's proxy on proxyHost (port from proxyPort).
func ServiceEnv(component, proxyHost string, proxyPort func(edge string) int) map[string]string {
	env := map[string]string{}
	for _, e := range topology.Edges() {
		if e.From == component && e.EnvVar != "" {
			env[e.EnvVar] = EdgeValue(e, proxyHost, proxyPort(e.Name))
		}
	}
	return env
}

// Callees are the components a component calls, in topology order.
func Callees(component string) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range topology.Edges() {
		if e.From == component && !seen[e.To] {
			seen[e.To] = true
			out = append(out, e.To)
		}
	}
	return out
}

// proxyPorts are the listen ports of the edges' proxies in the Toxiproxy container: 18xxx for
// HTTP, 14222+ for NATS, 15432+ for PostgreSQL, 16379 for Redis, so a port says what it carries.
var proxyPorts = map[string]int{
	"client->gateway":         18080,
	"gateway->redirect":       18081,
	"gateway->link":           18082,
	"gateway->analytics":      18083,
	"redirect->redis":         16379,
	"redirect->link":          18084,
	"redirect->nats":          14222,
	"link->link-db":           15432,
	"link->billing":           18085,
	"link->nats":              14223,
	"analytics->nats":         14224,
	"analytics->analytics-db": 15433,
	"billing->nats":           14225,
}

// ProxyPort is the listen port of an edge's proxy in the Toxiproxy container (0 for an
// unknown edge).
func ProxyPort(edge string) int { return proxyPorts[edge] }

// ProxyConfigs is the Toxiproxy configuration of the container stacks, one enabled proxy per
// edge in topology order: deploy/toxiproxy.json is this, and the containers backend
// writes it into its Toxiproxy container.
func ProxyConfigs() []ProxyConfig {
	var out []ProxyConfig
	for _, e := range topology.Edges() {
		out = append(out, ProxyConfig{
			Name:     e.Name,
			Listen:   net.JoinHostPort("0.0.0.0", strconv.Itoa(ProxyPort(e.Name))),
			Upstream: net.JoinHostPort(e.To, strconv.Itoa(ContainerPort(e.To))),
			Enabled:  true,
		})
	}
	return out
}
