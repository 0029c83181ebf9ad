package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/faultline/faultline/reports/conformance"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/system/policy"
	"github.com/faultline/faultline/system/topology"
)

// conformanceView is the resolved form of expect.conformance, which parses back to the same skips.
func conformanceView(c *verdict.ExpectConformance) yaml.MapSlice {
	skips := make([]yaml.MapSlice, 0, len(c.Skip))
	for _, s := range c.Skip {
		m := yaml.MapSlice{}
		if s.Edge != "" {
			m = append(m, yaml.MapItem{Key: "edge", Value: s.Edge})
		} else {
			m = append(m, yaml.MapItem{Key: "route", Value: s.Route})
		}
		skips = append(skips, append(m, yaml.MapItem{Key: "policy", Value: s.Policy}, yaml.MapItem{Key: "reason", Value: s.Reason}))
	}
	return yaml.MapSlice{{Key: "skip", Value: skips}}
}

// conformance reads expect.conformance: {skip: [{edge|route, policy, reason}]}.
func (d *decoder) conformance(path string, n ast.Node) *verdict.ExpectConformance {
	c := &verdict.ExpectConformance{}
	d.fields(path, "conformance", n, map[string]func(string, ast.Node){
		"skip": func(p string, v ast.Node) {
			items, _ := d.sequence(p, "a list of checks to skip", v)
			seen := map[string]bool{}
			for i, it := range items {
				ip := fmt.Sprintf("%s[%d]", p, i)
				s, ok := d.conformanceSkip(ip, it)
				if !ok {
					continue
				}
				key := s.Edge + "/" + s.Route + "/" + s.Policy
				if seen[key] {
					d.errorf(it, "%s: %s %s listed twice", ip, s.Edge+s.Route, s.Policy)
				}
				seen[key] = true
				c.Skip = append(c.Skip, s)
			}
		},
	}, nil)
	return c
}

func (d *decoder) conformanceSkip(path string, n ast.Node) (conformance.Skip, bool) {
	var s conformance.Skip
	var edgeN, routeN, policyN, reasonN ast.Node
	isMap := d.fields(path, "a check to skip", n, map[string]func(string, ast.Node){
		"edge": func(p string, v ast.Node) {
			edgeN = v
			if d.str(p, v, &s.Edge) && !topology.IsEdge(s.Edge) {
				d.errorf(v, "%s: unknown edge %q, expected one of: %s", p, s.Edge, strings.Join(topology.EdgeNames(), ", "))
			}
		},
		"route": func(p string, v ast.Node) {
			routeN = v
			if d.str(p, v, &s.Route) && !slices.Contains(policy.KnownRoutes, s.Route) {
				d.errorf(v, "%s: unknown route %q, expected one of: %s", p, s.Route, strings.Join(policy.KnownRoutes, ", "))
			}
		},
		"policy": func(p string, v ast.Node) { policyN = v; d.str(p, v, &s.Policy) },
		"reason": func(p string, v ast.Node) {
			reasonN = v
			if d.str(p, v, &s.Reason) && strings.TrimSpace(s.Reason) == "" {
				d.errorf(v, "%s: expected a reason the report can show, got an empty string", p)
			}
		},
	}, nil)
	if !isMap {
		return s, false
	}
	switch {
	case edgeN == nil && routeN == nil:
		d.errorf(n, "%s: missing key \"edge\" or \"route\"", path)
	case edgeN != nil && routeN != nil:
		d.errorf(routeN, "%s: expected either \"edge\" or \"route\", not both", path)
	case policyN == nil:
		d.errorf(n, "%s: missing key \"policy\"", path)
	case reasonN == nil:
		d.errorf(n, "%s: missing key \"reason\": a check is only switched off with a reason the report shows", path)
	default:
		list, kind := conformance.EdgePolicies, "an edge"
		if s.Route != "" {
			list, kind = conformance.RoutePolicies, "a route"
		}
		if s.Policy != "" && !slices.Contains(list, s.Policy) {
			d.errorf(policyN, "%s.policy: unknown policy %q for %s, expected one of: %s", path, s.Policy, kind, strings.Join(list, ", "))
			return s, false
		}
		return s, s.Policy != ""
	}
	return s, false
}
