package lab

import (
	"slices"
	"testing"

	"github.com/faultline/faultline/system/topology"
)

// TestAProxyOnEveryEdge ties the lab to the topology: every edge gets a proxy address and
// every component a port, so a fault can be put on each edge the format accepts.
func TestAProxyOnEveryEdge(t *testing.T) {
	l := &Lab{}
	if err := l.allocatePorts(); err != nil {
		t.Fatal(err)
	}
	for _, e := range topology.EdgeNames() {
		if l.proxyAddr[e] == "" {
			t.Errorf("edge %s has no proxy", e)
		}
	}
	if len(l.proxyAddr) != len(topology.Edges()) {
		t.Errorf("%d proxies, want one per edge (%d)", len(l.proxyAddr), len(topology.Edges()))
	}
	for _, c := range topology.Components() {
		if l.ports[c] == 0 {
			t.Errorf("component %s has no port", c)
		}
	}
	if !slices.Equal(dependencies("gateway"), []string{"redirect", "link", "analytics"}) {
		t.Errorf("gateway depends on %v", dependencies("gateway"))
	}
}

// TestStopGroupsCallersFirst ties the teardown order to the topology: every component once,
// each caller in an earlier group than what it calls.
func TestStopGroupsCallersFirst(t *testing.T) {
	group := map[string]int{}
	for i, g := range stopGroups {
		for _, c := range g {
			if _, dup := group[c]; dup {
				t.Errorf("%s stops twice", c)
			}
			group[c] = i
		}
	}
	for _, c := range topology.Components() {
		if _, ok := group[c]; !ok {
			t.Errorf("%s never stops", c)
		}
	}
	if len(group) != len(topology.Components()) {
		t.Errorf("stop groups name %d components, the topology has %d", len(group), len(topology.Components()))
	}
	for _, e := range topology.Edges() {
		if e.From != topology.Client && group[e.From] >= group[e.To] {
			t.Errorf("%s: %s stops with or after %s", e.Name, e.From, e.To)
		}
	}
}
