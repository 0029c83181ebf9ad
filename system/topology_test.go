package system

import (
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/system/internal/analytics"
	"github.com/faultline/faultline/system/internal/gateway"
	"github.com/faultline/faultline/system/internal/link"
	"github.com/faultline/faultline/system/internal/redirect"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/policy"
	"github.com/faultline/faultline/system/topology"
)

// TestTopologyIsTheSystems ties the services to system/topology, the one list the lab, the
// scenario format and the reports use: the components `serve` runs are the topology's
// processes, every edge a service's code labels is an edge of the topology, and a profile may
// name exactly the topology's edges.
func TestTopologyIsTheSystems(t *testing.T) {
	var runnable []string
	for _, c := range topology.Components() {
		if k := topology.KindOf(c); k == topology.KindService || k == topology.KindNATS {
			runnable = append(runnable, c)
		}
	}
	slices.Sort(runnable)
	if !slices.Equal(Components(), runnable) {
		t.Errorf("serve runs %v, the topology's services and NATS are %v", Components(), runnable)
	}
	for _, e := range []string{
		gateway.EdgeRedirect, gateway.EdgeLink, gateway.EdgeAnalytics,
		redirect.EdgeRedis, redirect.EdgeLink, redirect.EdgeNATS,
		link.EdgeDB, link.EdgeBilling, analytics.EdgeDB, analytics.EdgeNATS,
		resilience.GuardEdge,
	} {
		if !topology.IsEdge(e) {
			t.Errorf("the services label edge %q, which the topology lacks", e)
		}
	}
	var b strings.Builder
	b.WriteString("name: all-edges\nedges:\n")
	for _, e := range topology.EdgeNames() {
		b.WriteString("  " + e + ": {timeout: 1s}\n")
	}
	if _, err := policy.Parse("all-edges.yaml", []byte(b.String())); err != nil {
		t.Errorf("a profile naming every topology edge is refused: %v", err)
	}
	if _, err := policy.Parse("typo.yaml", []byte("name: typo\nedges:\n  link->redirect: {timeout: 1s}\n")); err == nil {
		t.Error("a profile naming an edge outside the topology is accepted")
	}
}
