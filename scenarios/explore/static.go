package explore

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/faultline/faultline/system/topology"
)

// recordedMap is the path map learned from a recorded run of the real system (the spans of
// reports/traces/testdata/real-link-db-latency, TestLearnRecordedBaseline keeps it current).
//
//go:embed testdata/recorded.pathmap.json
var recordedMap []byte

// StaticMap is the path map for a plan made without a baseline run (the dry run): each
// stream's path as recorded for the same request; a request never recorded touches every
// edge and component (nothing pruned by path for it). Source says which.
func StaticMap(b Base) PathMap {
	var rec PathMap
	if err := json.Unmarshal(recordedMap, &rec); err != nil {
		panic(fmt.Sprintf("explore: the recorded path map: %v", err)) // a test reads it
	}
	byReq := map[string]Path{}
	for _, p := range rec.Streams {
		byReq[p.Request] = p
	}
	pm := PathMap{Streams: map[string]Path{}}
	var unknown []string
	for _, s := range b.Load {
		if p, ok := byReq[s.Request]; ok {
			pm.Streams[s.Name] = p
			continue
		}
		unknown = append(unknown, s.Name)
		p := Path{Request: s.Request, Edges: map[string]string{}, Components: map[string]string{}}
		for _, e := range topology.EdgeNames() {
			p.Edges[e] = Sync
		}
		for _, c := range topology.Components() {
			p.Components[c] = Sync
		}
		pm.Streams[s.Name] = p
	}
	pm.Source = "the recorded map (no baseline run)"
	if len(unknown) > 0 {
		pm.Source += "; never recorded, so assumed to touch everything: " + strings.Join(unknown, ", ")
	}
	return pm
}
