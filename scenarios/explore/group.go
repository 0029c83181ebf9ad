package explore

import (
	"fmt"
	"github.com/faultline/faultline/reports"
	"maps"
	"slices"
	"strings"

	rexplore "github.com/faultline/faultline/reports/explore"
)

// Group testing (issue 14 point 8): several single faults injected at once when they lie on
// DISJOINT streams' paths, so that a stream's outcome can only come from the one fault on its
// path. A single is proven held by its group when every stream on its path held and its
// fault is shown (from traces) to have landed; a single whose stream broke, or whose fault
// did not land, runs again alone; what cannot be pinned on one single bisects the group. A
// fault that did not land is never "held".

// Group is several singles run as one experiment.
type Group struct {
	ID      string       `json:"id"`
	Singles []Experiment `json:"singles"`
}

// Faults are the group's faults, one per single.
func (g Group) Faults() []Fault {
	var out []Fault
	for _, x := range g.Singles {
		out = append(out, x.Faults...)
	}
	return out
}

// Experiment is the group as one experiment to run: every fault at once, on the union of
// the singles' streams.
func (g Group) Experiment() Experiment {
	var streams []string
	for _, x := range g.Singles {
		streams = append(streams, x.Streams...)
	}
	slices.Sort(streams)
	return Experiment{ID: g.ID, Faults: g.Faults(), Streams: slices.Compact(streams)}
}

// NewGroup makes a group of the singles.
func NewGroup(xs []Experiment) Group { return Group{ID: groupID(xs), Singles: xs} }

// groupID joins the singles' ids with " & " (never "+", which names a pair).
func groupID(xs []Experiment) string {
	ids := make([]string, len(xs))
	for i, x := range xs {
		ids[i] = x.ID
	}
	return strings.Join(ids, " & ")
}

// Groupable says whether a single may share a run: one fault, not stateful (a crashed store
// needs a fresh system after it), on at least one stream's path, and no surge (its extra load
// reaches every stream through the shared cores, whatever the paths say, and its landing is
// its stream's rate, not a call the traces show).
func Groupable(x Experiment) bool {
	return len(x.Faults) == 1 && !x.Stateful() && len(x.Streams) > 0 && !IsSurge(x.Faults[0])
}

// MakeGroups packs singles, in plan order, into groups of at most max whose streams are
// pairwise disjoint (first fit: the same plan, the same groups). A single that is not
// Groupable, or shares a stream with every open group, starts its own. max < 2 makes every
// single its own group.
func MakeGroups(singles []Experiment, max int) []Group {
	type open struct {
		xs      []Experiment
		streams map[string]bool
	}
	var groups []*open
	var order []*open
	for _, x := range singles {
		var into *open
		if max >= 2 && Groupable(x) {
			for _, g := range groups {
				if len(g.xs) < max && disjoint(g.streams, x.Streams) {
					into = g
					break
				}
			}
		}
		if into == nil {
			into = &open{streams: map[string]bool{}}
			order = append(order, into)
			if max >= 2 && Groupable(x) {
				groups = append(groups, into)
			}
		}
		into.xs = append(into.xs, x)
		for _, s := range x.Streams {
			into.streams[s] = true
		}
	}
	out := make([]Group, len(order))
	for i, g := range order {
		out[i] = Group{ID: groupID(g.xs), Singles: g.xs}
	}
	return out
}

func disjoint(used map[string]bool, streams []string) bool {
	for _, s := range streams {
		if used[s] {
			return false
		}
	}
	return true
}

// Landing is each fault's landing in a run, by target (reports/traces judges it from the
// calls the fault should touch; a group's faults are on distinct targets).
type Landing map[string]reports.Landing

// LandingOf collects the landings a run recorded on its faults.
func LandingOf(faults []reports.FaultEvent) Landing {
	l := Landing{}
	for _, f := range faults {
		if f.Landing != nil {
			l[f.Target] = *f.Landing
		}
	}
	return l
}

// Landed says whether the fault on f's target was shown to land, and why not.
func (l Landing) Landed(f Fault) (bool, string) {
	got, ok := l[f.Target]
	switch {
	case !ok:
		return false, "no landing recorded for " + f.Target
	case got.Status != reports.LandingLanded:
		return false, fmt.Sprintf("%s on %s: %s", got.Status, f.Target, got.Evidence)
	}
	return true, ""
}

// Attribution is what a group's run proves.
type Attribution struct {
	// Held are the outcomes of the singles the run proves held: every stream on the single's
	// path held and its fault landed. Each is the group's outcome under the single's id,
	// faults and path, marked with the group it ran in.
	Held []rexplore.Outcome
	// Alone are the singles to run again by themselves: a stream on their path broke (the
	// disjoint paths name the culprit, but a weak spot's evidence must be its own run), was
	// unproven, or their fault did not land. Why says why, per single id.
	Alone []Experiment
	Why   map[string]string
	// Split bisects the whole group when what broke cannot be attributed to one single (the
	// run proved nothing, a stream on no single's path broke, a retry storm, data lost from
	// no single's stream): its halves run again.
	Split [][]Experiment
	// SplitWhy says why the group was bisected.
	SplitWhy string
}

// Attribute judges a group's run. Nothing is guessed: a single is held only when every
// stream on its path held and its fault is shown to have landed; a single whose stream broke
// runs alone; whatever cannot be pinned on one single bisects the group. A group of one is the
// single's own run, judged as such: nothing to attribute.
func Attribute(g Group, out rexplore.Outcome, land Landing) Attribution {
	at := Attribution{Why: map[string]string{}}
	if len(g.Singles) < 2 {
		return at
	}
	onPath := map[string]bool{}
	for _, x := range g.Singles {
		for _, s := range x.Streams {
			onPath[s] = true
		}
	}
	why := ""
	switch {
	case !out.Valid || out.Verdict == "error" || out.Verdict == "aborted":
		why = "the run proved nothing (invalid or failed)"
	case len(out.Storms) > 0:
		why = "a retry storm, which no stream's path pins on one fault: " + weakText(out)
	default:
		for _, n := range sortedKeys((out.Streams)) {
			if c := out.Streams[n].Class; c != rexplore.Held && !onPath[n] {
				why = fmt.Sprintf("stream %s %s, on no single's path", n, c)
				break
			}
		}
	}
	if why != "" {
		h := (len(g.Singles) + 1) / 2
		at.Split, at.SplitWhy = [][]Experiment{g.Singles[:h], g.Singles[h:]}, why
		return at
	}
	for _, x := range g.Singles {
		w := ""
		for _, s := range x.Streams {
			if c := out.Streams[s].Class; c != rexplore.Held {
				w = fmt.Sprintf("stream %s %s", s, c)
				if c == "" {
					w = "stream " + s + " not measured"
				}
				break
			}
		}
		if w == "" {
			if ok, lw := land.Landed(x.Faults[0]); !ok {
				w = "its fault did not land: " + lw
			}
		}
		if w != "" {
			at.Alone = append(at.Alone, x)
			at.Why[x.ID] = w
			continue
		}
		o := out
		o.ID, o.Faults, o.OnPath, o.Group = x.ID, x.Faults, x.Streams, g.ID
		// its own streams and those on no single's path are its evidence; a stream on
		// another single's path proves nothing about this one
		o.Streams = map[string]rexplore.StreamOutcome{}
		for n, s := range out.Streams {
			if onPath[n] && !slices.Contains(x.Streams, n) {
				s = rexplore.StreamOutcome{Class: rexplore.Unproven, Rate: s.Rate,
					Why: "on the path of another fault of group " + g.ID}
			}
			o.Streams[n] = s
		}
		o.Data, o.Storms = nil, nil
		o.Affected = slices.Clone(out.Affected)
		at.Held = append(at.Held, o)
	}
	return at
}

func weakText(o rexplore.Outcome) string {
	var parts []string
	for _, n := range sortedKeys((o.Streams)) {
		if c := o.Streams[n].Class; c != rexplore.Held && c != rexplore.Unproven {
			parts = append(parts, n+" "+c)
		}
	}
	for _, s := range o.Storms {
		parts = append(parts, "retry storm on "+s.Edge)
	}
	if len(o.Data) > 0 {
		parts = append(parts, "data lost")
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
