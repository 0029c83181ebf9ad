// Package topology is the shape of the URL shortener as plain data: its components, their
// kinds, and its network edges, each named "from->to", as docs/contracts.md lists them.
package topology

import (
	"slices"
	"strings"
)

// Protocols spoken on edges.
const (
	HTTP     = "HTTP"
	Redis    = "Redis"
	NATS     = "NATS"
	Postgres = "PostgreSQL"
)

// Kinds of components: the stores (PostgreSQL, Redis), the NATS server and the services.
const (
	KindPostgres = "postgres"
	KindRedis    = "redis"
	KindNATS     = "nats"
	KindService  = "service"
)

// The ends of the one edge from outside: the load generator calls the public entry.
const (
	Client = "client"
	Entry  = "gateway"
)

// Edge is one network edge of the system; the lab puts a Toxiproxy proxy of the same name on it.
type Edge struct {
	Name     string // "from->to"
	From     string // caller component, or Client for the load generator
	To       string // callee component
	Protocol string // HTTP, Redis, NATS, PostgreSQL
	EnvVar   string // the caller's environment variable that gets the callee's address ("" for Client)
}

// component is one process of the topology.
type component struct {
	Name string
	Kind string
}

// The topology of docs/contracts.md, components in start order.
var (
	components = []component{
		{"link-db", KindPostgres}, {"analytics-db", KindPostgres}, {"redis", KindRedis},
		{"nats", KindNATS}, {"billing", KindService}, {"link", KindService},
		{"analytics", KindService}, {"redirect", KindService}, {"gateway", KindService},
	}
	edges = []Edge{
		{"client->gateway", Client, "gateway", HTTP, ""},
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
	// services in the design's order, entry first: the order the lab reads their logs and
	// metrics in (TestServicesAreTheServiceComponents keeps it to the components of KindService).
	services = []string{"gateway", "link", "redirect", "analytics", "billing"}
)

// Components lists the component names in start order (a callee before its callers).
func Components() []string {
	out := make([]string, len(components))
	for i, c := range components {
		out[i] = c.Name
	}
	return out
}

// Services lists the components that run the shortener's code (they export spans and
// metrics and log breaker transitions), entry first.
func Services() []string { return slices.Clone(services) }

// Edges lists every edge.
func Edges() []Edge { return slices.Clone(edges) }

// EdgeNames lists every edge's name, in the order of Edges.
func EdgeNames() []string {
	out := make([]string, len(edges))
	for i, e := range edges {
		out[i] = e.Name
	}
	return out
}

// IsEdge says whether name is an edge.
func IsEdge(name string) bool {
	return slices.ContainsFunc(edges, func(e Edge) bool { return e.Name == name })
}

// IsComponent says whether name is a component.
func IsComponent(name string) bool {
	return slices.ContainsFunc(components, func(c component) bool { return c.Name == name })
}

// KindOf returns a component's kind, or "" for an unknown name.
func KindOf(name string) string {
	for _, c := range components {
		if c.Name == name {
			return c.Kind
		}
	}
	return ""
}

// EdgeName names the edge from caller to callee.
func EdgeName(from, to string) string { return from + "->" + to }

// SplitEdge splits "from->to" at its first "->"; ok is false for anything else.
func SplitEdge(edge string) (from, to string, ok bool) {
	if from, to, found := strings.Cut(edge, "->"); found {
		return from, to, from != "" && to != ""
	}
	return "", "", false
}
