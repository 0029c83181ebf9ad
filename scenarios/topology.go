package scenarios

import "github.com/faultline/faultline/lab"

// The topology is package lab's; these copies of its names feed error messages.
var (
	// Components in start order.
	Components = lab.Components()
	// Edges, each a Toxiproxy proxy of that name.
	Edges = edgeNames()
)

func edgeNames() []string {
	var out []string
	for _, e := range lab.Edges() {
		out = append(out, e.Name)
	}
	return out
}

// IsEdge says whether name is an edge of the topology.
func IsEdge(name string) bool { return lab.IsEdge(name) }

// IsComponent says whether name is a component of the topology.
func IsComponent(name string) bool { return lab.IsComponent(name) }
