package explore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/system/topology"
)

// How a stream reaches an edge or component.
const (
	Sync  = "sync"  // on the request's own call chain: the client waits for it
	Async = "async" // behind the queue: a publish, or what a consumer does with the event later
)

// PathMap is, per load stream, the edges and components its requests touch, learned from
// spans. Source says where it came from (a baseline run, a cached map, the recorded map).
type PathMap struct {
	Source  string          `json:"source"`
	Streams map[string]Path `json:"streams"`
}

// Path is what one stream touches: name → Sync or Async. Sync wins when a target is both.
type Path struct {
	Request    string            `json:"request"`
	Traces     int               `json:"traces"` // request traces the path was learned from
	Edges      map[string]string `json:"edges"`
	Components map[string]string `json:"components"`
}

// Touches says whether the path touches a target (edge or component), and how.
func (p Path) Touches(target string) (string, bool) {
	if how, ok := p.Edges[target]; ok {
		return how, true
	}
	how, ok := p.Components[target]
	return how, ok
}

// StreamRequest is one stream of the load: its name and its "METHOD /path" request.
type StreamRequest struct{ Name, Request string }

// Learn builds the path map from spans. A trace belongs to the stream whose request names its
// root span (the gateway's server span, named "METHOD route" like the scenario's request);
// traces of no stream (the outbox relay's own work) are ignored. Everything at or below a
// consumer span, and every publish to NATS, is on the async path.
func Learn(spans []traces.Span, streams []StreamRequest) PathMap {
	byReq := map[string]string{}
	pm := PathMap{Source: "baseline spans", Streams: map[string]Path{}}
	for _, s := range streams {
		byReq[s.Request] = s.Name
		pm.Streams[s.Name] = Path{Request: s.Request, Edges: map[string]string{}, Components: map[string]string{}}
	}
	type key struct {
		t traces.TraceID
		s traces.SpanID
	}
	byID := make(map[key]int, len(spans))
	for i := range spans {
		byID[key{spans[i].TraceID, spans[i].SpanID}] = i
	}
	parent := func(i int) (int, bool) {
		s := &spans[i]
		if s.ParentSpanID.IsZero() {
			return 0, false
		}
		j, ok := byID[key{s.TraceID, s.ParentSpanID}]
		return j, ok
	}
	// root and async of each span, memoised along the chain.
	root := make([]int, len(spans))
	async := make([]bool, len(spans))
	done := make([]bool, len(spans))
	var resolve func(i int, depth int)
	resolve = func(i int, depth int) {
		if done[i] {
			return
		}
		done[i] = true
		root[i] = i
		if j, ok := parent(i); ok && depth < 256 {
			resolve(j, depth+1)
			root[i], async[i] = root[j], async[j]
		}
		if spans[i].Kind == traces.KindConsumer {
			async[i] = true
		}
	}
	rootTraces := map[string]map[traces.TraceID]bool{}
	for i := range spans {
		resolve(i, 0)
		r := &spans[root[i]]
		if r.Service != topology.Entry || r.Kind != traces.KindServer {
			continue
		}
		name, ok := byReq[r.Name]
		if !ok {
			continue
		}
		if rootTraces[name] == nil {
			rootTraces[name] = map[traces.TraceID]bool{}
		}
		rootTraces[name][r.TraceID] = true
		p := pm.Streams[name]
		s := &spans[i]
		how := Sync
		if async[i] {
			how = Async
		}
		p.add(s.Service, how)
		if i == root[i] {
			p.addEdge(topology.EdgeName(topology.Client, topology.Entry), Sync)
		}
		switch s.Kind {
		case traces.KindClient, traces.KindProducer:
			from, to := s.Service, s.Attr(traces.AttrPeerService)
			if f, t, ok := topology.SplitEdge(s.Attr(traces.AttrEdge)); ok {
				from, to = f, t
			}
			if to == "" {
				continue
			}
			edgeHow := how
			if to == "nats" {
				edgeHow = Async // publishes go through a buffer or the outbox relay
			}
			p.addEdge(topology.EdgeName(from, to), edgeHow)
			p.add(to, edgeHow)
		case traces.KindConsumer:
			// The consumer pulls the event over its own connection to NATS.
			p.addEdge(topology.EdgeName(s.Service, "nats"), Async)
			p.add("nats", Async)
		case traces.KindServer:
			if j, ok := parent(i); ok && spans[j].Service != s.Service {
				p.addEdge(topology.EdgeName(spans[j].Service, s.Service), how)
			}
		}
	}
	for name, ts := range rootTraces {
		p := pm.Streams[name]
		p.Traces = len(ts)
		pm.Streams[name] = p
	}
	return pm
}

// add records a component, unknown names (a span's own service label gone wrong) left out.
func (p Path) add(component, how string) {
	if topology.IsComponent(component) {
		mark(p.Components, component, how)
	}
}

func (p Path) addEdge(edge, how string) {
	if topology.IsEdge(edge) {
		mark(p.Edges, edge, how)
	}
}

func mark(m map[string]string, name, how string) {
	if cur, ok := m[name]; !ok || (cur == Async && how == Sync) {
		m[name] = how
	}
}

// Targets lists every edge and component any stream touches, sorted.
func (pm PathMap) Targets() []string {
	set := map[string]bool{}
	for _, p := range pm.Streams {
		for e := range p.Edges {
			set[e] = true
		}
		for c := range p.Components {
			set[c] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// stream says whether name is a stream of the map; any name when the map is empty (flags
// checked before the paths are known).
func (pm PathMap) stream(name string) bool {
	_, ok := pm.Streams[name]
	return ok || (len(pm.Streams) == 0 && name != "")
}

// StreamNames lists the streams, sorted.
func (pm PathMap) StreamNames() []string { return slices.Sorted(maps.Keys(pm.Streams)) }

// On lists the streams whose path touches target, sorted.
func (pm PathMap) On(target string) []string {
	var out []string
	for _, n := range pm.StreamNames() {
		if _, ok := pm.Streams[n].Touches(target); ok {
			out = append(out, n)
		}
	}
	return out
}

// Empty lists the streams no trace was learned for: their paths are unknown, not empty.
func (pm PathMap) Empty() []string {
	var out []string
	for _, n := range pm.StreamNames() {
		if pm.Streams[n].Traces == 0 {
			out = append(out, n)
		}
	}
	return out
}

// ReadPathMap reads a path map written by WritePathMap.
func ReadPathMap(path string) (PathMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PathMap{}, fmt.Errorf("explore: %w", err)
	}
	var pm PathMap
	if err := json.Unmarshal(b, &pm); err != nil {
		return PathMap{}, fmt.Errorf("explore: %s: %w", path, err)
	}
	for name, p := range pm.Streams {
		for t := range p.Edges {
			if !topology.IsEdge(t) {
				return PathMap{}, fmt.Errorf("explore: %s: stream %s: unknown edge %q", path, name, t)
			}
		}
		for t := range p.Components {
			if !topology.IsComponent(t) {
				return PathMap{}, fmt.Errorf("explore: %s: stream %s: unknown component %q", path, name, t)
			}
		}
	}
	return pm, nil
}

// JSON is the map as indented JSON (keys sorted, so it diffs well).
func (pm PathMap) JSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "->" stays readable
	enc.SetIndent("", "  ")
	_ = enc.Encode(pm) // maps of strings always encode
	return b.Bytes()
}
