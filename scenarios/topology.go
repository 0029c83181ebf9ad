package scenarios

import "slices"

// The topology of docs/contracts.md. Package lab does not exist yet (it would own
// IsEdge/IsComponent); until it does, scenarios keeps this copy, which a test checks against
// docs/contracts.md so the two cannot drift silently.
var (
	// Components in start order.
	Components = []string{"link-db", "analytics-db", "redis", "nats", "billing", "link", "analytics", "redirect", "gateway"}
	// Edges, each a Toxiproxy proxy of that name.
	Edges = []string{
		"client->gateway", "gateway->redirect", "gateway->link", "gateway->analytics",
		"redirect->redis", "redirect->link", "redirect->nats",
		"link->link-db", "link->billing", "link->nats",
		"analytics->nats", "analytics->analytics-db", "billing->nats",
	}
)

// IsEdge says whether name is an edge of the topology.
func IsEdge(name string) bool { return slices.Contains(Edges, name) }

// IsComponent says whether name is a component of the topology.
func IsComponent(name string) bool { return slices.Contains(Components, name) }
