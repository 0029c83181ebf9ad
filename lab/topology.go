// Package lab starts the system under test on loopback with a Toxiproxy proxy on every network edge, and controls and tears it down.
package lab

import (
	"fmt"
	"slices"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/system/topology"
)

// dependencies returns the components name calls (the targets of its edges).
func dependencies(name string) []string {
	var out []string
	for _, e := range topology.Edges() {
		if e.From == name && !slices.Contains(out, e.To) {
			out = append(out, e.To)
		}
	}
	return out
}

// ComponentURL is how a component at addr is reached: a DSN for PostgreSQL, redis:// and
// nats:// URLs for the others, a base URL for services. Every backend addresses them so.
func ComponentURL(component, addr, database string) string {
	switch topology.KindOf(component) {
	case topology.KindPostgres:
		return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", addr, database)
	case topology.KindRedis:
		return "redis://" + addr
	case topology.KindNATS:
		return "nats://" + addr
	}
	return "http://" + addr
}

// LookupProxy returns an edge's proxy from a Toxiproxy API, for every backend.
func LookupProxy(toxi *toxiclient.Client, edge string) (*toxiclient.Proxy, error) {
	if !topology.IsEdge(edge) {
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
func EdgeURL(e topology.Edge, addr, database string) string {
	switch e.Protocol {
	case topology.HTTP:
		return "http://" + addr
	case topology.NATS:
		return "nats://" + addr
	case topology.Postgres:
		return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", addr, database)
	}
	return addr
}
