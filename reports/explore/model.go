// Package explore is the explorer's report: each experiment's outcome per stream, the matrix
// of faults × streams, the weak spots ranked by user impact, and its HTML, Markdown and JSON.
package explore

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Outcome classes of one stream under one experiment, from best to worst. Unproven is
// neither a pass nor a weak spot: the measurement was invalid or a check had no data.
const (
	Held     = "held"
	Slowed   = "slowed"
	Broken   = "broken"
	DataLost = "data-lost"
	Unproven = "unproven"
)

// severity orders the classes for ranking; unproven ranks with nothing.
var severity = map[string]int{Held: 0, Unproven: 0, Slowed: 1, Broken: 2, DataLost: 3}

// Fault is one injected fault: a class of the vocabulary, the registered fault type, its
// target and parameters, and how the parameters follow from the profile.
type Fault struct {
	Class  string         `json:"class"`
	Type   string         `json:"fault"`
	Target string         `json:"target"`
	Params map[string]any `json:"params,omitempty"`
	Why    string         `json:"why,omitempty"`
}

// ID names the fault: class@target.
func (f Fault) ID() string { return f.Class + "@" + f.Target }

// ParamText spells the parameters as key=value, sorted.
func (f Fault) ParamText() string {
	keys := make([]string, 0, len(f.Params))
	for k := range f.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, f.Params[k])
	}
	return strings.Join(parts, " ")
}

// StreamOutcome is one stream under one experiment.
type StreamOutcome struct {
	Class string `json:"class"`
	// Failed lists the SLO thresholds that failed, with their values ("fault p(99)<1s: 1520 ms").
	Failed []string `json:"failed,omitempty"`
	// Impact is the blast radius's user impact: the share of fault-phase requests that failed
	// or broke the stream's latency threshold.
	Impact float64 `json:"user_impact"`
	Rate   float64 `json:"rate"` // requests per second asked
	Why    string  `json:"why,omitempty"`
	// CoveredBy, on a pair's stream, names the single (one of the pair's faults alone) that
	// hurt the stream at least as much: a known weakness, no finding of the pair (MarkCovered).
	CoveredBy string `json:"covered_by,omitempty"`
}

// Outcome is one experiment, judged by the runner and classified per stream.
type Outcome struct {
	ID      string   `json:"id"`
	Faults  []Fault  `json:"faults"`
	OnPath  []string `json:"on_path"` // streams whose path the faults lie on
	Verdict string   `json:"verdict"`
	Valid   bool     `json:"valid"`
	// Invalid says why the measurement is invalid (the runner's reasons), when it is.
	Invalid   []string                 `json:"invalid_reasons,omitempty"`
	Reasons   []string                 `json:"reasons,omitempty"`
	Streams   map[string]StreamOutcome `json:"streams"`
	Data      map[string]int           `json:"data_lost,omitempty"` // data-safety counters above 0
	Affected  []string                 `json:"affected_services"`
	Dir       string                   `json:"dir"` // the experiment's run directory
	DurationS float64                  `json:"duration_s"`
	// Fresh: the experiment ran on a freshly started system.
	Fresh bool `json:"fresh_system"`
	// SameAs names the first experiment with the same outcome signature; set when collapsed.
	SameAs string `json:"same_as,omitempty"`
	// Storms are the edges whose calls retried back to back in the fault phase: a weakness
	// no user SLO may show yet (the breaker stops it after a second), but the sick callee
	// took the load of a retry storm.
	Storms []RetryStorm `json:"retry_storms,omitempty"`
	// Group names the group of singles this outcome was run in, all at once on disjoint
	// streams' paths (scenarios/explore group testing); empty when run alone.
	Group string `json:"group,omitempty"`
}

// RetryStorm is one edge's retry storm: some call retried at least StormRetries times and
// the median wait between a call's attempts was under StormGapMs (no backoff).
type RetryStorm struct {
	Edge        string  `json:"edge"`
	MaxRetries  int     `json:"max_retries_per_call"`
	MedianGapMs float64 `json:"median_gap_ms"`
	// CoveredBy, on a pair's storm, names the single that stormed on the same edge.
	CoveredBy string `json:"covered_by,omitempty"`
}

// A retry storm: at least this many retries in one call, with a median wait between
// attempts under this. Every retrying edge of default retries at most twice, after a 10-20 ms
// backoff with jitter; a median gap under 1 ms is no backoff at all.
const (
	StormRetries = 2
	StormGapMs   = 1.0
)

// String is the storm's evidence in one line.
func (s RetryStorm) String() string {
	return fmt.Sprintf("%s: %d retries in one call, %.2f ms median between attempts", s.Edge, s.MaxRetries, s.MedianGapMs)
}

// Pair says whether two faults were injected.
func (o Outcome) Pair() bool { return len(o.Faults) > 1 }

// Weak says whether the experiment found a weakness: some stream slowed, broken or lost data,
// or a retry storm, that is not covered (a pair's, already shown by one of its faults alone).
func (o Outcome) Weak() bool {
	for _, st := range o.Storms {
		if st.CoveredBy == "" {
			return true
		}
	}
	for _, s := range o.Streams {
		if severity[s.Class] > 0 && s.CoveredBy == "" {
			return true
		}
	}
	return false
}

// Hurt says whether any stream was slowed, broken or lost data, or an edge stormed, covered or
// not: what comparing one experiment across profiles looks at.
func (o Outcome) Hurt() bool {
	if len(o.Storms) > 0 {
		return true
	}
	for _, s := range o.Streams {
		if severity[s.Class] > 0 {
			return true
		}
	}
	return false
}

// MarkCovered marks a pair's streams and storms that one of its faults alone, in singles (the
// exploration's outcomes), hurt at least as much: as severe a class, and every SLO the pair
// failed on the stream failed by the single too (a pair that breaks the recovery where the
// single broke only the fault phase found something). A pair that only repeats its singles'
// damage is no weak spot, and a weak pair's evidence says which of its damage is new. A
// single whose measurement was invalid covers nothing. Singles are matched by fault id.
func MarkCovered(pair *Outcome, singles []Outcome) {
	if !pair.Pair() {
		return
	}
	alone := map[string]Outcome{}
	for _, o := range singles {
		if len(o.Faults) == 1 && o.Valid {
			alone[o.ID] = o
		}
	}
	for n, s := range pair.Streams {
		if severity[s.Class] == 0 {
			continue
		}
		for _, f := range pair.Faults {
			if o, ok := alone[f.ID()]; ok && asBad(o.Streams[n], s) {
				s.CoveredBy = o.ID
				pair.Streams[n] = s
				break
			}
		}
	}
	for i, st := range pair.Storms {
		for _, f := range pair.Faults {
			if o, ok := alone[f.ID()]; ok && slices.Contains(o.StormEdges(), st.Edge) {
				pair.Storms[i].CoveredBy = o.ID
				break
			}
		}
	}
}

// Breaks says whether the experiment broke a stream (errors or data), as the pair
// reduction counts it; a slowdown does not cover a pair.
func (o Outcome) Breaks(stream string) bool {
	c := o.Streams[stream].Class
	return c == Broken || c == DataLost
}

// Signature is the outcome with the faults left out: the affected services, the SLOs broken
// and the data lost. Experiments with equal signatures are collapsed in the report.
func (o Outcome) Signature() string {
	var parts []string
	parts = append(parts, "affected="+strings.Join(sorted(o.Affected), ","))
	var failed []string
	for n, s := range o.Streams {
		if s.CoveredBy != "" {
			continue // a known weakness: two pairs with the same new damage are one finding
		}
		failed = append(failed, n+":"+s.Class)
		for _, f := range s.Failed {
			failed = append(failed, n+":"+thresholdOf(f))
		}
	}
	parts = append(parts, "slos="+strings.Join(sorted(failed), ","))
	var data []string
	for k := range o.newData() {
		data = append(data, k)
	}
	parts = append(parts, "data="+strings.Join(sorted(data), ","))
	var storms []string
	for _, st := range o.Storms {
		if st.CoveredBy == "" {
			storms = append(storms, st.Edge)
		}
	}
	if len(storms) > 0 {
		parts = append(parts, "storms="+strings.Join(sorted(storms), ","))
	}
	return strings.Join(parts, "|")
}

// thresholdOf drops the measured value from a failed-threshold line: the signature compares
// what broke, not by how much.
func thresholdOf(failed string) string {
	if i := strings.LastIndex(failed, ": "); i >= 0 {
		return failed[:i]
	}
	return failed
}

// asBad says whether single hurt a stream at least as much as pair did: as severe a class and
// every SLO the pair failed failed by the single too (compared without their values).
func asBad(single, pair StreamOutcome) bool {
	if severity[single.Class] < severity[pair.Class] {
		return false
	}
	for _, f := range pair.Failed {
		if !slices.ContainsFunc(single.Failed, func(g string) bool { return thresholdOf(g) == thresholdOf(f) }) {
			return false
		}
	}
	return true
}

// newData is the data lost that is news: none when every stream that lost data is covered (one
// of a pair's faults alone lost it too), else all of it (the counters are not per stream).
func (o Outcome) newData() map[string]int {
	covered := false
	for _, s := range o.Streams {
		if s.Class == DataLost {
			if s.CoveredBy == "" {
				return o.Data
			}
			covered = true
		}
	}
	if covered {
		return nil
	}
	return o.Data
}

// Impact is the experiment's user impact: data loss first, then the requests per second that
// failed or were too slow, summed over the streams, each stream's share times its rate.
func (o Outcome) Impact() (dataLost int, perSecond float64) {
	for _, v := range o.newData() {
		dataLost += v
	}
	for _, s := range o.Streams {
		if severity[s.Class] > 0 && s.CoveredBy == "" {
			perSecond += s.Impact * s.Rate
		}
	}
	return dataLost, perSecond
}

// StormEdges lists the edges of the outcome's retry storms, sorted.
func (o Outcome) StormEdges() []string {
	var out []string
	for _, s := range o.Storms {
		out = append(out, s.Edge)
	}
	return sorted(out)
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}

// PrunedRule is one reduction rule and what it removed.
type PrunedRule struct {
	Rule     string   `json:"rule"`
	Why      string   `json:"why"`
	Count    int      `json:"count"`
	Examples []string `json:"examples,omitempty"`
}

// Exploration is one exploration of one profile: the plan's figures and every outcome.
type Exploration struct {
	Profile   string    `json:"profile"`
	Scenario  string    `json:"scenario"`
	Seed      uint64    `json:"seed"`
	MapSource string    `json:"map_source"`
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"`
	Streams   []string  `json:"streams"`
	// Possible experiments of the space, Planned after the static reductions, Explored run to
	// a verdict; Pruned lists every rule with its count (budget and dynamic ones included).
	Possible    int          `json:"possible"`
	Planned     int          `json:"planned"`
	Explored    int          `json:"explored"`
	Pruned      []PrunedRule `json:"pruned"`
	Outcomes    []Outcome    `json:"outcomes"`
	Systems     int          `json:"systems_started"`
	Interrupted bool         `json:"interrupted,omitempty"`
	// Scenarios maps a weak spot's experiment id to the scenario file written for it.
	Scenarios map[string]string `json:"scenarios,omitempty"`
	Notes     []string          `json:"notes,omitempty"`
}

// PrunedTotal counts every pruned experiment.
func (e *Exploration) PrunedTotal() int { return PrunedTotal(e.Pruned) }

// PrunedTotal sums the rules' counts.
func PrunedTotal(rules []PrunedRule) int {
	n := 0
	for _, p := range rules {
		n += p.Count
	}
	return n
}

// PerMinute is experiments explored per minute of the exploration.
func (e *Exploration) PerMinute() float64 {
	if e.DurationS <= 0 {
		return 0
	}
	return float64(e.Explored) / (e.DurationS / 60)
}

// Collapse marks every outcome whose signature equals an earlier one's (SameAs) and returns
// how many it collapsed. Outcomes that found nothing or proved nothing are never collapsed:
// "held" is not a finding to deduplicate.
func Collapse(outs []Outcome) int {
	first := map[string]string{}
	n := 0
	for i := range outs {
		o := &outs[i]
		o.SameAs = ""
		if !o.Weak() {
			continue
		}
		sig := o.Signature()
		if id, ok := first[sig]; ok {
			o.SameAs = id
			n++
			continue
		}
		first[sig] = o.ID
	}
	return n
}

// WeakSpots are the weak outcomes that were not collapsed, ranked by user impact: data lost
// first, then failed or too slow requests per second, then singles before pairs, then id.
func WeakSpots(outs []Outcome) []Outcome {
	var out []Outcome
	for _, o := range outs {
		if o.Weak() && o.SameAs == "" {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		di, pi := out[i].Impact()
		dj, pj := out[j].Impact()
		if (di > 0) != (dj > 0) {
			return di > 0
		}
		if di != dj {
			return di > dj
		}
		if pi != pj {
			return pi > pj
		}
		if out[i].Pair() != out[j].Pair() {
			return !out[i].Pair()
		}
		return out[i].ID < out[j].ID
	})
	return out
}
