package scenarios

import (
	"io/fs"
	"sort"
	"strings"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/system/profiles"
)

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

// Mutants are the built-in profiles a scenario may list under controls: every embedded
// profile except default, which is what the mutants are measured against.
func Mutants() []string {
	files, _ := fs.Glob(profiles.FS, "*.yaml") // the pattern is constant: no error
	var out []string
	for _, f := range files {
		if name := strings.TrimSuffix(f, ".yaml"); name != "default" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
