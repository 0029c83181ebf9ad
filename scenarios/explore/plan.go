package explore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/system/policy"
	"github.com/faultline/faultline/system/topology"
)

// Reduction rules: why an experiment of the possible space is not run.
const (
	// RuleOutside: the client->gateway edge is the load generator's own link; a fault there
	// measures the client, not the system.
	RuleOutside = "outside-the-system"
	// RuleOffPath: no stream's path (sync or through the queue) touches the target.
	RuleOffPath = "off-path"
	// RuleSameTarget: two faults on one target would undo each other.
	RuleSameTarget = "same-target"
	// RuleNotOnePath: the two targets never lie on one stream's path together.
	RuleNotOnePath = "not-on-one-path"
	// RuleBelow: an edge fault below a component fault of its caller: the caller is down or
	// frozen, its calls cannot reach the edge (Filibuster's dependency reduction).
	RuleBelow = "below-a-failed-caller"
	// RuleCovered: every stream the pair shares is already broken by one of its singles
	// (dynamic, from the singles' outcomes).
	RuleCovered = "covered-by-a-single"
	// RuleUnderSurge: a mild latency (latency-mild) alone, or with another fault than a
	// surge: every call absorbs it; it only costs the callee capacity, which a surge needs.
	RuleUnderSurge = "only-under-a-surge"
	// RuleBudget: the budget ran out before it.
	RuleBudget = "budget"
	// RuleNotSelected: the user narrowed the search to other targets, classes or
	// experiments (--targets, --faults, --only).
	RuleNotSelected = "not-selected"
)

// RuleText explains each rule in one line, for the dry run and the report.
var RuleText = map[string]string{
	RuleOutside:     "the client->gateway edge is the load generator's own link",
	RuleOffPath:     "no stream's path touches the target (learned from traces)",
	RuleSameTarget:  "two faults on one target would undo each other",
	RuleNotOnePath:  "the two targets never lie on one stream's path (sync or through the queue)",
	RuleBelow:       "an edge fault below a crashed or paused caller cannot act",
	RuleCovered:     "a single fault of the pair already breaks every stream the pair shares",
	RuleUnderSurge:  "a mild latency fits in every call's timeout: it only costs capacity, so it is tried with a surge alone",
	RuleBudget:      "the budget ran out before it",
	RuleNotSelected: "outside the targets, fault classes or experiments asked for (--targets, --faults, --only)",
}

// Experiment is one point of the search: one fault, or two at once, and the streams whose
// path it lies on.
type Experiment struct {
	ID      string   `json:"id"`
	Faults  []Fault  `json:"faults"`
	Streams []string `json:"streams"`
}

// Pair says whether the experiment injects two faults.
func (e Experiment) Pair() bool { return len(e.Faults) > 1 }

// Stateful says whether a fresh system must follow the experiment.
func (e Experiment) Stateful() bool { return slices.ContainsFunc(e.Faults, Stateful) }

// Pruned counts and names the experiments one rule removed (the report's model).
type Pruned = rexplore.PrunedRule

// MaxExamples bounds the names listed per pruning rule.
const MaxExamples = 8

// Plan is the search, as data: what will run, in order, and what was pruned and why.
type Plan struct {
	Profile   string `json:"profile"`
	Seed      uint64 `json:"seed"`
	MapSource string `json:"map_source"`
	// Possible counts every experiment of the space: each vocabulary fault on every edge and
	// component, and with pairs every two of them.
	Possible int          `json:"possible"`
	Singles  []Experiment `json:"singles"`
	Pairs    []Experiment `json:"pairs,omitempty"`
	Pruned   []Pruned     `json:"pruned"`
	WithPair bool         `json:"with_pairs"`
}

// Options shape a plan.
type Options struct {
	Seed  uint64
	Pairs bool
	Limit int // at most this many experiments, singles first (0 = no limit); the rest budget-pruned
	// Targets narrows the search to faults on these edges and components, Classes to these
	// fault classes (nil = all).
	Targets, Classes []string
	// Only narrows the search to these experiments by id (class@target, or two joined by
	// "+" in either order for a pair; nil = all): a pair asked for turns pairs on.
	Only []string
}

// only says whether the user's list of experiments keeps the one named id.
func (o Options) only(id string) bool {
	return len(o.Only) == 0 || slices.Contains(o.Only, id) || slices.Contains(o.Only, SwapPair(id))
}

// checkID refuses an experiment id that names no fault of the vocabulary: class@target, or
// two of them joined by "+".
func checkID(id string, pm PathMap) error {
	parts := strings.Split(id, "+")
	if len(parts) > 2 {
		return fmt.Errorf("explore: experiment %q: at most two faults (a+b)", id)
	}
	for _, f := range parts {
		class, target, ok := strings.Cut(f, "@")
		switch {
		case !ok:
			return fmt.Errorf("explore: experiment %q: want class@target, e.g. refused@link->billing", id)
		case !slices.Contains(Classes(), class):
			return fmt.Errorf("explore: experiment %q: unknown fault class %q (known: %s)", id, class, strings.Join(Classes(), ", "))
		case class == ClassSurge:
			if !pm.stream(target) {
				return fmt.Errorf("explore: experiment %q: a surge targets a stream of the load (%s), not %q", id, strings.Join(pm.StreamNames(), ", "), target)
			}
		case !topology.IsEdge(target) && !topology.IsComponent(target):
			return fmt.Errorf("explore: experiment %q: unknown target %q (an edge from->to or a component)", id, target)
		}
	}
	return nil
}

// SwapPair spells a pair's id the other way round ("a+b" → "b+a"); a single's id is
// returned as it is.
func SwapPair(id string) string {
	if a, b, ok := strings.Cut(id, "+"); ok {
		return b + "+" + a
	}
	return id
}

// selected says whether the user's narrowing keeps f.
func (o Options) selected(f Fault) bool {
	return (len(o.Targets) == 0 || slices.Contains(o.Targets, f.Target)) &&
		(len(o.Classes) == 0 || slices.Contains(o.Classes, f.Class))
}

// NewPlan lists the search over the path map for profile p.
func NewPlan(pm PathMap, p *policy.Profile, o Options) (*Plan, error) {
	if slices.ContainsFunc(o.Only, func(id string) bool { return strings.Contains(id, "+") }) {
		o.Pairs = true
	}
	pl := &Plan{Profile: p.Name, Seed: o.Seed, MapSource: pm.Source, WithPair: o.Pairs}
	for _, t := range o.Targets {
		if !topology.IsEdge(t) && !topology.IsComponent(t) && !pm.stream(t) {
			return nil, fmt.Errorf("explore: unknown target %q (an edge from->to, a component or, for a surge, a stream of the load)", t)
		}
	}
	for _, c := range o.Classes {
		if !slices.Contains(Classes(), c) {
			return nil, fmt.Errorf("explore: unknown fault class %q (known: %s)", c, strings.Join(Classes(), ", "))
		}
	}
	for _, id := range o.Only {
		if err := checkID(id, pm); err != nil {
			return nil, err
		}
	}
	pruned := map[string]*Pruned{}
	prune := func(rule, id string) {
		pr := pruned[rule]
		if pr == nil {
			pr = &Pruned{Rule: rule, Why: RuleText[rule]}
			pruned[rule] = pr
		}
		pr.Count++
		if len(pr.Examples) < MaxExamples {
			pr.Examples = append(pr.Examples, id)
		}
	}
	var all []Fault // every fault of the space: a surge of each stream, then the vocabulary's
	for _, n := range pm.StreamNames() {
		all = append(all, Surge(n))
	}
	for _, t := range append(topology.EdgeNames(), topology.Components()...) {
		fs, err := Faults(p, t)
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	pl.Possible = len(all)
	var live []Fault // singles kept
	for _, f := range all {
		switch {
		case IsSurge(f):
			if !o.selected(f) {
				prune(RuleNotSelected, f.ID())
				continue
			}
			live = append(live, f)
			if !o.only(f.ID()) {
				prune(RuleNotSelected, f.ID())
				continue
			}
			pl.Singles = append(pl.Singles, Experiment{ID: f.ID(), Faults: []Fault{f}, Streams: surgeStreams(pm, f.Target)})
		case f.Target == topology.EdgeName(topology.Client, topology.Entry):
			prune(RuleOutside, f.ID())
		case len(pm.On(f.Target)) == 0:
			prune(RuleOffPath, f.ID())
		case !o.selected(f):
			prune(RuleNotSelected, f.ID())
		case f.Class == ClassMild:
			live = append(live, f) // kept for the pairs with a surge
			prune(RuleUnderSurge, f.ID())
		default:
			live = append(live, f)
			if !o.only(f.ID()) {
				prune(RuleNotSelected, f.ID())
				continue
			}
			pl.Singles = append(pl.Singles, Experiment{ID: f.ID(), Faults: []Fault{f}, Streams: pm.On(f.Target)})
		}
	}
	if o.Pairs {
		pl.Possible += len(all) * (len(all) - 1) / 2
		keptSet := map[string]bool{}
		for _, f := range live {
			keptSet[f.ID()] = true
		}
		for i := range all {
			for j := i + 1; j < len(all); j++ {
				a, b := all[i], all[j]
				id := a.ID() + "+" + b.ID()
				rule, shared := pairRule(a, b, keptSet, pm, o)
				if rule != "" {
					prune(rule, id)
					continue
				}
				pl.Pairs = append(pl.Pairs, Experiment{ID: id, Faults: []Fault{a, b}, Streams: shared})
			}
		}
	}
	order(pl.Singles, o.Seed)
	order(pl.Pairs, o.Seed+1)
	if o.Limit > 0 {
		pl.cut(o.Limit, prune)
	}
	rules := make([]string, 0, len(pruned))
	for r := range pruned {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	for _, r := range rules {
		pl.Pruned = append(pl.Pruned, *pruned[r])
	}
	return pl, nil
}

// pairRule is the rule that prunes the pair a+b (kept: the singles not pruned by a static
// rule), or "" and the streams the pair lies on together when it is planned.
func pairRule(a, b Fault, kept map[string]bool, pm PathMap, o Options) (string, []string) {
	switch {
	case !kept[a.ID()] || !kept[b.ID()]:
		// a pair with a pruned single inherits the single's rule
		return singleRule(a, b, kept, pm, o.Targets), nil
	case sameTarget(a, b):
		return RuleSameTarget, nil
	case (a.Class == ClassMild && !IsSurge(b)) || (b.Class == ClassMild && !IsSurge(a)):
		return RuleUnderSurge, nil
	case below(a, b) || below(b, a):
		return RuleBelow, nil
	}
	shared := pairStreams(pm, a, b)
	switch {
	case len(shared) == 0:
		return RuleNotOnePath, nil
	case !o.only(a.ID() + "+" + b.ID()):
		return RuleNotSelected, nil
	}
	return "", shared
}

// singleRule is the rule that pruned the first pruned single of a pair.
// Classes lists the vocabulary's fault classes.
func Classes() []string {
	out := []string{ClassSurge}
	for _, e := range Vocabulary {
		out = append(out, e.Class)
	}
	return out
}

func singleRule(a, b Fault, kept map[string]bool, pm PathMap, targets []string) string {
	f := a
	if kept[a.ID()] {
		f = b
	}
	switch {
	case IsSurge(f):
		return RuleNotSelected
	case f.Target == topology.EdgeName(topology.Client, topology.Entry):
		return RuleOutside
	case len(pm.On(f.Target)) == 0:
		return RuleOffPath
	}
	return RuleNotSelected
}

// below says whether edge fault e starts at the component c crashes or pauses (a starved
// CPU slows the caller; its calls still go out, so the pair is kept).
func below(c, e Fault) bool {
	if IsSurge(c) || IsSurge(e) || !onComponent(c) || onComponent(e) || c.Class == ClassCPU {
		return false
	}
	from, _, ok := topology.SplitEdge(e.Target)
	return ok && from == c.Target
}

// sameTarget says whether two faults act on one target: a surge's is a stream, never an edge
// or a component of the same name (the redirect stream and the redirect service).
func sameTarget(a, b Fault) bool { return a.Target == b.Target && IsSurge(a) == IsSurge(b) }

// surgeStreams are the streams a surge of stream lies on: those whose path shares an edge or a
// component with the surged stream's (its extra calls queue where theirs go), itself included.
func surgeStreams(pm PathMap, stream string) []string {
	p, ok := pm.Streams[stream]
	if !ok {
		return nil
	}
	var out []string
	for _, n := range pm.StreamNames() {
		q := pm.Streams[n]
		shares := n == stream
		for t := range q.Edges {
			if _, ok := p.Edges[t]; ok {
				shares = true
			}
		}
		for t := range q.Components {
			if _, ok := p.Components[t]; ok {
				shares = true
			}
		}
		if shares {
			out = append(out, n)
		}
	}
	return out
}

// pairStreams lists the streams a pair lies on together. A surge with a fault on a target:
// the streams on the target, when the surged stream's path reaches it (else the surge's extra
// calls never meet the fault: none). Two surges: the streams both lie on.
func pairStreams(pm PathMap, a, b Fault) []string {
	switch {
	case IsSurge(a) && IsSurge(b):
		sa := surgeStreams(pm, a.Target)
		var out []string
		for _, n := range surgeStreams(pm, b.Target) {
			if slices.Contains(sa, n) {
				out = append(out, n)
			}
		}
		return out
	case IsSurge(b):
		a, b = b, a
		fallthrough
	case IsSurge(a):
		if _, ok := pm.Streams[a.Target].Touches(b.Target); !ok {
			return nil
		}
		return pm.On(b.Target)
	}
	return sharedStreams(pm, a.Target, b.Target)
}

// sharedStreams lists the streams whose path touches both targets.
func sharedStreams(pm PathMap, a, b string) []string {
	var out []string
	for _, n := range pm.StreamNames() {
		p := pm.Streams[n]
		_, okA := p.Touches(a)
		_, okB := p.Touches(b)
		if okA && okB {
			out = append(out, n)
		}
	}
	return out
}

// order sorts by id, shuffles with the seed (the same seed, the same plan), then moves the
// experiments that need a fresh system after them to the end, so they cost fewer restarts.
func order(xs []Experiment, seed uint64) {
	sort.Slice(xs, func(i, j int) bool { return xs[i].ID < xs[j].ID })
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
	sort.SliceStable(xs, func(i, j int) bool { return !xs[i].Stateful() && xs[j].Stateful() })
}

// cut keeps the first n experiments, singles first.
func (pl *Plan) cut(n int, prune func(rule, id string)) {
	if len(pl.Singles) > n {
		for _, e := range pl.Singles[n:] {
			prune(RuleBudget, e.ID)
		}
		pl.Singles = pl.Singles[:n]
	}
	n -= len(pl.Singles)
	if len(pl.Pairs) > n {
		for _, e := range pl.Pairs[n:] {
			prune(RuleBudget, e.ID)
		}
		pl.Pairs = pl.Pairs[:n]
	}
}

// Experiments lists what the plan runs, in order: singles, then pairs.
func (pl *Plan) Experiments() []Experiment { return append(slices.Clone(pl.Singles), pl.Pairs...) }

// PrunedTotal counts every pruned experiment.
func (pl *Plan) PrunedTotal() int { return rexplore.PrunedTotal(pl.Pruned) }

// Text is the plan for the dry run: the order of experiments, then every pruning rule with
// its count and examples.
func (pl *Plan) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "exploration plan: profile %s, seed %d, paths from %s\n", pl.Profile, pl.Seed, pl.MapSource)
	fmt.Fprintf(&b, "possible experiments: %d; planned: %d (%d singles, %d pairs); pruned: %d\n",
		pl.Possible, len(pl.Singles)+len(pl.Pairs), len(pl.Singles), len(pl.Pairs), pl.PrunedTotal())
	for i, e := range pl.Experiments() {
		fmt.Fprintf(&b, "%4d  %-60s streams: %s\n", i+1, e.ID, strings.Join(e.Streams, ","))
		for _, f := range e.Faults {
			p := f.ParamText()
			if p != "" {
				p = " " + p
			}
			fmt.Fprintf(&b, "        %s %s%s (%s)\n", f.Type, f.Target, p, f.Why)
		}
	}
	b.WriteString("pruned:\n")
	for _, p := range pl.Pruned {
		fmt.Fprintf(&b, "  %-22s %5d  %s; e.g. %s\n", p.Rule, p.Count, p.Why, strings.Join(p.Examples, ", "))
	}
	if pl.WithPair {
		fmt.Fprintf(&b, "  %-22s     ?  %s (decided while running)\n", RuleCovered, RuleText[RuleCovered])
	}
	return b.String()
}
