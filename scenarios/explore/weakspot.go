package explore

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/bounds"
	"github.com/faultline/faultline/system/policy"
)

// WeakSpotCaughtUp is how soon after the load a data weak spot's scenario expects analytics to
// have counted everything: the explorer's own wait (run.Options.Settle's default).
const WeakSpotCaughtUp = 10 * time.Second

// WeakSpot is the scenario file for a weak spot, ready for the catalogue: the experiment's
// faults and load, and expectations that state what the design should guarantee (the SLOs in
// every phase, no data lost), never the failure observed, so it fails today and passes once
// the weakness is mended. Comments carry the evidence and the profile's design bound on each
// stream's route under these faults (scenarios/bounds).
func (b Base) WeakSpot(o rexplore.Outcome, p *policy.Profile) ([]byte, error) {
	spec := Spec{Name: WeakSpotName(o.ID), Profile: p.Name, Faults: o.Faults,
		Description: fmt.Sprintf("Found by faultline explore (profile %s): %s. %s", p.Name, o.ID, evidence(o))}
	if len(o.Data) > 0 {
		// Data missing when the explorer's wait ran out: lost, or late. The catalogue waits
		// longer (30 s), so without this a system that counts half a minute late would pass
		// the scenario written for the very weak spot found here.
		spec.CaughtUpWithin = WeakSpotCaughtUp
	}
	for _, st := range o.Storms {
		if spec.MaxRetries == nil {
			spec.MaxRetries = map[string]int{}
		}
		// the design's promise is retries spaced by backoff, never a storm: fewer retries
		// per call than a storm makes
		spec.MaxRetries[st.Edge] = rexplore.StormRetries - 1
	}
	y, err := b.yaml(spec)
	if err != nil {
		return nil, err
	}
	sc, err := scenarios.Parse(spec.Name+".yaml", y)
	if err != nil {
		return nil, fmt.Errorf("explore: %w", err)
	}
	for _, st := range bounds.Check(sc, p) {
		spec.SLOComments = append(spec.SLOComments, fmt.Sprintf("%s: the longest answer the design allows under these faults is %s: %s", st.Name, st.Limit, st.LimitBy))
	}
	spec.Comments = append(spec.Comments, "What the explorer observed (the expectations below are the design's, not this):")
	for _, n := range slices.Sorted(maps.Keys(o.Streams)) {
		s := o.Streams[n]
		line := fmt.Sprintf("  %s %s, user impact %.1f%%", n, s.Class, s.Impact*100)
		if len(s.Failed) > 0 {
			line += "; failed " + strings.Join(s.Failed, "; ")
		}
		spec.Comments = append(spec.Comments, line)
	}
	for _, st := range o.Storms {
		spec.Comments = append(spec.Comments, "  retry storm (traces): "+st.String())
	}
	if len(o.Affected) > 0 {
		spec.Comments = append(spec.Comments, "  affected (blast radius from traces): "+strings.Join(o.Affected, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(o.Data)) {
		spec.Comments = append(spec.Comments, fmt.Sprintf("  data: %s %d", k, o.Data[k]))
	}
	if o.Dir != "" {
		spec.Comments = append(spec.Comments, "  run directory: "+o.Dir)
	}
	return b.yaml(spec)
}

// WeakSpotName is the scenario name (and file name) of an experiment's weak spot.
func WeakSpotName(id string) string { return "weak-" + strings.TrimPrefix(ScenarioName(id), "x-") }

func evidence(o rexplore.Outcome) string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(o.Streams)) {
		if c := o.Streams[n].Class; c != rexplore.Held {
			parts = append(parts, n+" "+c)
		}
	}
	for _, st := range o.Storms {
		parts = append(parts, "a retry storm on "+st.Edge)
	}
	return "Observed: " + strings.Join(parts, ", ") + "."
}
