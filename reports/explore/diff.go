package explore

import (
	"slices"
	"sort"
)

// Diff is what one profile's exploration found that another's did not, experiment by
// experiment (ids name the fault class and target, so they match across profiles even when
// the parameters, derived from each profile, differ).
type Diff struct {
	A string `json:"a"`
	B string `json:"b"`
	// OnlyA are the experiments weak under A and held (or less hurt) under B; OnlyB the
	// reverse: a stream worse off, more data lost.
	OnlyA []string `json:"only_a"`
	OnlyB []string `json:"only_b"`
	// Both are weak under both; Uncompared were weak under one and not run (or unproven)
	// under the other.
	Both       []string `json:"both"`
	Uncompared []string `json:"uncompared"`
}

// Compare diffs two explorations.
func Compare(a, b *Exploration) Diff {
	d := Diff{A: a.Profile, B: b.Profile}
	oa, ob := byID(a.Outcomes), byID(b.Outcomes)
	ids := map[string]bool{}
	for id := range oa {
		ids[id] = true
	}
	for id := range ob {
		ids[id] = true
	}
	for id := range ids {
		x, inA := oa[id]
		y, inB := ob[id]
		wa, wb := inA && x.Hurt(), inB && y.Hurt() // the same experiment, covered or not
		if !wa && !wb {
			continue
		}
		var aWorse, bWorse bool
		if inA && inB {
			aWorse, bWorse = worse(x, y), worse(y, x)
		}
		switch {
		case bWorse && !aWorse:
			d.OnlyB = append(d.OnlyB, id)
		case aWorse && !bWorse:
			d.OnlyA = append(d.OnlyA, id)
		case wa && wb:
			d.Both = append(d.Both, id)
		default:
			d.Uncompared = append(d.Uncompared, id)
		}
	}
	for _, s := range [][]string{d.OnlyA, d.OnlyB, d.Both, d.Uncompared} {
		sort.Strings(s)
	}
	return d
}

func byID(outs []Outcome) map[string]Outcome {
	m := make(map[string]Outcome, len(outs))
	for _, o := range outs {
		m[o.ID] = o
	}
	return m
}

// worse says whether a hurt some stream more than b did, judged only on streams both
// runs proved (an unproven stream is no evidence either way), or lost more data.
func worse(a, b Outcome) bool {
	for n, s := range a.Streams {
		t, ok := b.Streams[n]
		if !ok || s.Class == Unproven || t.Class == Unproven {
			continue
		}
		if severity[s.Class] > severity[t.Class] {
			return true
		}
	}
	for _, e := range a.StormEdges() {
		if b.Valid && !slices.Contains(b.StormEdges(), e) {
			return true // a retry storm b's retries did not make
		}
	}
	la, _ := a.Impact()
	lb, _ := b.Impact()
	return la > lb && proven(b)
}

// proven says whether every stream of the outcome was judged (none unproven).
func proven(o Outcome) bool {
	if len(o.Streams) == 0 {
		return false
	}
	for _, s := range o.Streams {
		if s.Class == Unproven {
			return false
		}
	}
	return true
}
