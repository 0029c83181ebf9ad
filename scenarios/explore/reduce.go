package explore

import rexplore "github.com/faultline/faultline/reports/explore"

// Reduced is the pairs left after the singles ran, and the ids of those removed.
type Reduced struct {
	Keep   []Experiment
	Pruned []string
}

// Reduce applies the dynamic rule (RuleCovered): a single fault that already breaks a stream
// (errors or lost data, not a slowdown) removes that stream from every pair holding the
// fault; a pair left with no stream is not run. A single that was not run, or proved
// nothing, covers nothing.
func Reduce(pairs []Experiment, singles []rexplore.Outcome) Reduced {
	byID := map[string]rexplore.Outcome{}
	for _, o := range singles {
		if !o.Pair() {
			byID[o.ID] = o
		}
	}
	var r Reduced
	for _, p := range pairs {
		var left []string
		for _, s := range p.Streams {
			covered := false
			for _, f := range p.Faults {
				if o, ok := byID[f.ID()]; ok && o.Breaks(s) {
					covered = true
				}
			}
			if !covered {
				left = append(left, s)
			}
		}
		if len(left) == 0 {
			r.Pruned = append(r.Pruned, p.ID)
			continue
		}
		p.Streams = left
		r.Keep = append(r.Keep, p)
	}
	return r
}
