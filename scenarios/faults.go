package scenarios

import (
	"slices"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// checkTarget validates the fault name against the toxics registry, its target against the
// topology and its parameters by building the fault with toxics.New (the same strict decoding
// and Validate the runner uses), so a file that validates cannot fail later on a parameter.
func (d *decoder) checkTarget(path string, f *Fault, edgeN, compN, n ast.Node) {
	if f.Fault == "" {
		return
	}
	proto, err := toxics.Lookup(f.Fault)
	if err != nil {
		d.errorf(n, "%s: unknown fault %q, expected one of: %s", path, f.Fault, strings.Join(toxics.Names(), ", "))
		return
	}
	f.Kind = string(proto.Kind())
	switch proto.Kind() {
	case toxics.Network:
		switch {
		case compN != nil:
			d.errorf(compN, "%s: expected an edge for network fault %s, not a component", path, f.Fault)
		case edgeN == nil:
			d.errorf(n, "%s: missing key \"edge\" (network fault %s acts on an edge)", path, f.Fault)
		case !topology.IsEdge(f.Edge):
			d.errorf(edgeN, "%s.edge: unknown edge %q, expected one of: %s", path, f.Edge, strings.Join(topology.EdgeNames(), ", "))
		}
	case toxics.Process:
		switch {
		case edgeN != nil:
			d.errorf(edgeN, "%s: expected a component for process fault %s, not an edge", path, f.Fault)
		case compN == nil:
			d.errorf(n, "%s: missing key \"component\" (process fault %s acts on a component)", path, f.Fault)
		case !topology.IsComponent(f.Component):
			d.errorf(compN, "%s: unknown component %q, expected one of: %s", path, f.Component, strings.Join(topology.Components(), ", "))
		}
	}
	known := toxics.ParamNames(proto)
	vals := map[string]any{}
	for _, k := range sortedKeys(f.Params) {
		if slices.Contains(known, k) {
			vals[k] = f.paramVals[k]
		} else {
			want := "no parameters"
			if len(known) > 0 {
				want = "one of: " + strings.Join(known, ", ")
			}
			d.errs.add(d.file, f.paramPos[k], "%s: unknown parameter %q for fault %s, expected %s", path, k, f.Fault, want)
		}
	}
	d.checkToxicity(path, f)
	if _, err := toxics.New(f.Fault, vals); err != nil {
		msg := strings.ReplaceAll(err.Error(), "toxics: ", "")
		d.errs.add(d.file, paramPosIn(f, msg), "%s: %s", path, msg)
	}
}

// paramPosIn points at the parameter an error message is about, else at the fault. The
// message starts with the fault's name ("latency: toxicity 0: ..."), which may itself be a
// parameter's name, so the parameter the rest starts with wins, then one whose value it quotes.
func paramPosIn(f *Fault, msg string) Pos {
	rest := strings.TrimPrefix(msg, f.Fault+": ")
	for _, k := range sortedKeys(f.paramPos) {
		if strings.HasPrefix(rest, k+" ") || strings.HasPrefix(rest, "parameter "+k+":") {
			return f.paramPos[k]
		}
	}
	for _, k := range sortedKeys(f.paramPos) {
		if strings.Contains(rest, `"`+f.Params[k]+`"`) { // a value the decoder refused: duration "soon"
			return f.paramPos[k]
		}
	}
	for _, k := range sortedKeys(f.paramPos) {
		if strings.Contains(rest, k) {
			return f.paramPos[k]
		}
	}
	return f.pos
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
