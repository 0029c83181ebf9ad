// Package lab starts the system under test on loopback with a Toxiproxy proxy on every network edge, and controls and tears it down.
package lab

import (
	"fmt"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"slices"
)

// Protocols spoken on edges.
const (
	HTTP     = "HTTP"
	Redis    = "Redis"
	NATS     = "NATS"
	Postgres = "PostgreSQL"
)

// Kinds of components.
const (
	KindPostgres = "postgres"
	KindRedis    = "redis"
	KindNATS     = "nats"
	KindService  = "service"
)

// Edge is one network edge of the system; each is a Toxiproxy proxy of the same name.
type Edge struct {
	Name     string // "from->to"
	From     string // caller component, or "client" for the load generator
	To       string // callee component
	Protocol string // HTTP, Redis, NATS, PostgreSQL
	EnvVar   string // the caller's environment variable that gets the proxy address ("" for client)
}

// component is one process of the topology.
type component struct {
	Name string
	Kind string
}

// The topology of docs/contracts.md, components in start order.
var (
	topoComponents = []component{
		{"link-db", KindPostgres}, {"analytics-db", KindPostgres}, {"redis", KindRedis},
		{"nats", KindNATS}, {"billing", KindService}, {"link", KindService},
		{"analytics", KindService}, {"redirect", KindService}, {"gateway", KindService},
	}
	topoEdges = []Edge{
		{"client->gateway", "client", "gateway", HTTP, ""},
		{"gateway->redirect", "gateway", "redirect", HTTP, "REDIRECT_URL"},
		{"gateway->link", "gateway", "link", HTTP, "LINK_URL"},
		{"gateway->analytics", "gateway", "analytics", HTTP, "ANALYTICS_URL"},
		{"redirect->redis", "redirect", "redis", Redis, "REDIS_ADDR"},
		{"redirect->link", "redirect", "link", HTTP, "LINK_URL"},
		{"redirect->nats", "redirect", "nats", NATS, "NATS_URL"},
		{"link->link-db", "link", "link-db", Postgres, "DATABASE_URL"},
		{"link->billing", "link", "billing", HTTP, "BILLING_URL"},
		{"link->nats", "link", "nats", NATS, "NATS_URL"},
		{"analytics->nats", "analytics", "nats", NATS, "NATS_URL"},
		{"analytics->analytics-db", "analytics", "analytics-db", Postgres, "DATABASE_URL"},
		{"billing->nats", "billing", "nats", NATS, "NATS_URL"},
	}
)

// Components lists the component names in start order.
func Components() []string {
	out := make([]string, len(topoComponents))
	for i, c := range topoComponents {
		out[i] = c.Name
	}
	return out
}

// Edges lists every edge of the topology.
func Edges() []Edge { return slices.Clone(topoEdges) }

// IsEdge says whether name is an edge of the topology.
func IsEdge(name string) bool {
	return slices.ContainsFunc(topoEdges, func(e Edge) bool { return e.Name == name })
}

// IsComponent says whether name is a component of the topology.
func IsComponent(name string) bool {
	return slices.ContainsFunc(topoComponents, func(c component) bool { return c.Name == name })
}

// KindOf returns a component's kind, or "" for an unknown name.
func KindOf(name string) string {
	for _, c := range topoComponents {
		if c.Name == name {
			return c.Kind
		}
	}
	return ""
}

// dependencies returns the components name calls (the targets of its edges).
func dependencies(name string) []string {
	var out []string
	for _, e := range topoEdges {
		if e.From == name && !slices.Contains(out, e.To) {
			out = append(out, e.To)
		}
	}
	return out
}

// ComponentURL is how a component at addr is reached: a DSN for PostgreSQL, redis:// and
// nats:// URLs for the others, a base URL for services. Every backend addresses them so.
func ComponentURL(component, addr, database string) string {
	switch KindOf(component) {
	case KindPostgres:
		return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", addr, database)
	case KindRedis:
		return "redis://" + addr
	case KindNATS:
		return "nats://" + addr
	}
	return "http://" + addr
}

// LookupProxy returns an edge's proxy from a Toxiproxy API, for every backend.
func LookupProxy(toxi *toxiclient.Client, edge string) (*toxiclient.Proxy, error) {
	if !IsEdge(edge) {
		return nil, fmt.Errorf("%w: edge %q", ErrUnknownTarget, edge)
	}
	p, err := toxi.Proxy(edge)
	if err != nil {
		return nil, fmt.Errorf("lab: proxy %s: %w", edge, err)
	}
	return p, nil
}

// EdgeURL is what a caller's environment variable holds for an edge whose proxy listens on
// addr: the form the protocol's client expects.
func EdgeURL(e Edge, addr, database string) string {
	switch e.Protocol {
	case HTTP:
		return "http://" + addr
	case NATS:
		return "nats://" + addr
	case Postgres:
		return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", addr, database)
	}
	return addr
}
