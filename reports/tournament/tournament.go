// Package tournament runs resilience profiles on the same scenarios, with the same seeded load and fault schedule per repeat, and ranks them per criterion only outside the noise of the repeats.
//
// Criteria, each per run, then over a profile's repeats:
//   - goodput (fault): successful requests per second over every stream in the fault phase;
//   - SLO-seconds violated: seconds of the run in which some SLO threshold, evaluated on that
//     second's requests of its stream, failed (only seconds of the phases the SLO names);
//   - retry amplification, per edge: attempts on the edge in the fault phase (first tries,
//     retries, hedges, from the attempt spans) per client request in the fault phase;
//   - time to recover: from the last heal to the start of the first second from which every
//     SLO threshold holds in every second to the end (the rest of the run when never);
//   - user impact: the worst stream's share of fault-phase requests failed or too slow;
//   - data lost: lost links + missing clicks + duplicate clicks;
//   - p99 ok (fault), per stream: the p99 of successful requests only, next to goodput, so a
//     profile that fails fast never looks fast.
//
// Winner rule: compare's (range non-overlap over repeats; a twofold lead for single runs). A
// run whose measurement was invalid, or that ended in error, counts in no criterion: it is
// listed, and its profile has fewer runs. A criterion a run could not measure (no spans, no
// data-safety check) is no value, never the best. Overall ranking: the number of criteria a
// profile won outside noise, over all scenarios; ties by the mean rank of its means.
package tournament

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/compare"
	"github.com/faultline/faultline/reports/rundir"
	"github.com/faultline/faultline/reports/verdict"
)

// Criteria names.
const (
	Goodput       = "goodput (fault)"
	SLOSeconds    = "SLO-seconds violated"
	Amplification = "retry amplification"
	Recovery      = "time to recover"
	UserImpact    = "user impact"
	DataLost      = "data lost"
	okPrefix      = "p99 ok (fault) "
)

// Run is one finished run: its results and raw samples (nil when unreadable).
type Run struct {
	Scenario, Profile string
	Repeat            int
	Seed              int64
	Dir               string
	Results           *reports.Results
	Samples           []rundir.Sample
	Err               error // the runner's error, if any
}

// Usable says whether the run counts in the ranking: finished, valid, not an error verdict.
func (r Run) Usable() (bool, string) {
	switch {
	case r.Results == nil:
		return false, fmt.Sprintf("did not finish: %v", r.Err)
	case !r.Results.Valid:
		return false, "invalid measurement: " + strings.Join(r.Results.InvalidReasons, "; ")
	case r.Results.Verdict == reports.VerdictError:
		return false, "verdict error: " + strings.Join(r.Results.Reasons, "; ")
	}
	return true, ""
}

// RunFunc runs one scenario file under one profile with the given seed into dir.
type RunFunc func(ctx context.Context, scenario, profile string, seed int64, dir string, log io.Writer) (*reports.Results, error)

// Plan is what to play: every profile on every scenario, Repeat times each.
type Plan struct {
	Profiles  []string
	Scenarios []string // files
	Repeat    int
	// Seeds gives each scenario's base seed; repeat i (from 1) of every profile runs with
	// base + i − 1, so the profiles of one repeat face the same load and fault schedule.
	Seeds map[string]int64
	Out   string
}

// RunDir is where one run goes.
func (p Plan) RunDir(scenario, profile string, repeat int) string {
	name := strings.TrimSuffix(filepath.Base(scenario), filepath.Ext(scenario))
	return filepath.Join(p.Out, "runs", safe(name), fmt.Sprintf("%s-%d", safe(profile), repeat))
}

// Play runs the plan sequentially, repeat by repeat so a slow drift of the machine spreads
// over every profile, and loads each finished run's samples. It stops early only when ctx
// ends; a failed run is kept (and later listed) and the rest go on.
func Play(ctx context.Context, p Plan, run RunFunc, load func(dir string) ([]rundir.Sample, error), log io.Writer) ([]Run, error) {
	var out []Run
	for _, sc := range p.Scenarios {
		for i := 1; i <= p.Repeat; i++ {
			for _, prof := range p.Profiles {
				if err := ctx.Err(); err != nil {
					return out, fmt.Errorf("tournament: %w", err)
				}
				r := Run{Scenario: sc, Profile: prof, Repeat: i, Seed: p.Seeds[sc] + int64(i-1), Dir: p.RunDir(sc, prof, i)}
				fmt.Fprintf(log, "tournament: %s × %s, repeat %d/%d (seed %d) → %s\n", filepath.Base(sc), prof, i, p.Repeat, r.Seed, r.Dir)
				r.Results, r.Err = run(ctx, sc, prof, r.Seed, r.Dir, log)
				if r.Results != nil && load != nil {
					r.Samples, _ = load(r.Dir)
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Table is one scenario's ranking.
type Table struct {
	Scenario string
	Profiles []string
	Runs     map[string]int // usable runs per profile
	Rows     []compare.MetricRow
	Excluded []string // runs that count in nothing, and why
	Compared *compare.Comparison
}

// Ranking is the whole tournament.
type Ranking struct {
	Profiles []string
	Tables   []Table
	Overall  []Standing
}

// Standing is one profile's overall place.
type Standing struct {
	Profile  string
	Wins     int     // criteria won outside noise, over all scenarios
	MeanRank float64 // mean rank of its means over every row with a value (1 = best)
	Rows     int     // rows where it had a value
}

// Rank builds the tables and the overall ranking from finished runs.
func Rank(profiles []string, runs []Run) *Ranking {
	rk := &Ranking{Profiles: profiles}
	var scenarios []string
	by := map[string][]Run{}
	for _, r := range runs {
		name := r.Scenario
		if r.Results != nil && r.Results.Scenario != "" {
			name = r.Results.Scenario
		}
		if _, ok := by[name]; !ok {
			scenarios = append(scenarios, name)
		}
		by[name] = append(by[name], r)
	}
	for _, sc := range scenarios {
		rk.Tables = append(rk.Tables, table(sc, profiles, by[sc]))
	}
	rk.Overall = overall(profiles, rk.Tables)
	return rk
}

// scores are one run's values per criterion (NaN: not measured).
type scores map[string]float64

func table(name string, profiles []string, runs []Run) Table {
	t := Table{Scenario: name, Profiles: profiles, Runs: map[string]int{}}
	per := map[string][]scores{}
	var streams []string
	var cmpRuns []*reports.Results
	var cmpLabels []string
	var cmpSamples [][]rundir.Sample
	for _, r := range runs {
		if ok, why := r.Usable(); !ok {
			t.Excluded = append(t.Excluded, fmt.Sprintf("%s repeat %d (seed %d): %s", r.Profile, r.Repeat, r.Seed, why))
			continue
		}
		t.Runs[r.Profile]++
		s := score(r)
		per[r.Profile] = append(per[r.Profile], s)
		for _, st := range r.Results.Streams {
			if !contains(streams, st.Name) {
				streams = append(streams, st.Name)
			}
		}
		cmpRuns, cmpLabels, cmpSamples = append(cmpRuns, r.Results), append(cmpLabels, r.Profile), append(cmpSamples, r.Samples)
	}
	if len(cmpRuns) > 0 {
		t.Compared = compare.Compare(cmpRuns, cmpLabels, cmpSamples...)
	}
	row := func(metric, unit string, better int) compare.MetricRow {
		mr := compare.MetricRow{Metric: metric, Unit: unit, Better: better, Winner: -1}
		for _, p := range profiles {
			var vs []float64
			for _, s := range per[p] {
				v, ok := s[metric]
				if !ok {
					v = math.NaN()
				}
				vs = append(vs, v)
			}
			mr.Values = append(mr.Values, compare.Of(vs))
		}
		compare.Judge(&mr)
		return mr
	}
	t.Rows = append(t.Rows,
		row(Goodput, compare.UnitPerS, +1),
		row(SLOSeconds, compare.UnitS, -1),
		row(Recovery, compare.UnitS, -1),
		row(UserImpact, compare.UnitRatio, -1),
		row(DataLost, compare.UnitCount, -1))
	for _, s := range streams {
		t.Rows = append(t.Rows, row(okPrefix+s, compare.UnitMs, -1))
	}
	for _, e := range edges(per) {
		t.Rows = append(t.Rows, row(Amplification+" "+e, compare.UnitRatio, -1))
	}
	return t
}

// score measures one usable run on every criterion.
func score(r Run) scores {
	res := r.Results
	s := scores{}
	fault, hasFault := window(res, reports.PhaseFault)
	if hasFault {
		var good, requests float64
		for _, st := range res.Streams {
			for _, f := range st.Phases {
				if f.Phase == reports.PhaseFault {
					good += f.AchievedRate * (1 - f.ErrorRate)
					requests += float64(f.Requests)
				}
			}
		}
		s[Goodput] = good
		if m := res.Mechanisms; m != nil && len(m.FaultAttempts) > 0 && requests > 0 {
			for e, n := range m.FaultAttempts {
				s[Amplification+" "+e] = float64(n) / requests
			}
		}
	}
	if res.BlastRadius != nil && len(res.BlastRadius.UserImpact) > 0 {
		worst := 0.0
		for _, v := range res.BlastRadius.UserImpact {
			worst = max(worst, v)
		}
		s[UserImpact] = worst
	}
	if d := res.DataSafety; d != nil {
		s[DataLost] = float64(d.LostLinks + d.MissingClicks + d.DuplicateClicks)
	}
	if r.Samples != nil {
		secs := sloSeconds(res, r.Samples)
		if secs != nil {
			s[SLOSeconds] = float64(secs.violated)
			if heal, ok := lastHeal(res); ok {
				s[Recovery] = secs.recoveredAfter(heal, res.DurationS)
			}
		}
		if hasFault {
			for _, st := range res.Streams {
				if v, ok := okP99(r.Samples, st.Name, fault); ok {
					s[okPrefix+st.Name] = v
				}
			}
		}
	}
	return s
}

// window is a phase's time span (the first window of that name).
func window(res *reports.Results, phase string) (reports.PhaseWindow, bool) {
	for _, w := range res.Phases {
		if w.Name == phase {
			return w, true
		}
	}
	return reports.PhaseWindow{}, false
}

// lastHeal is when the last foreground fault was healed, in seconds from the start.
func lastHeal(res *reports.Results) (float64, bool) {
	heal, ok := 0.0, false
	for _, f := range res.Faults {
		if !f.Background && f.HealedAt > 0 {
			heal, ok = max(heal, f.HealedAt), true
		}
	}
	return heal, ok
}

// perSecond is, for each whole second of the run, whether every SLO threshold that applies
// then held on that second's requests.
type perSecond struct {
	held     []bool // index: second from the start; true when no threshold failed
	violated int
}

// sloSeconds evaluates every SLO threshold of the run in every second of the phases it names,
// with the lab's one threshold grammar (reports/verdict). A second with no request of the
// stream is not judged (no data is no pass, and no violation either).
func sloSeconds(res *reports.Results, samples []rundir.Sample) *perSecond {
	if len(res.SLOs) == 0 {
		return nil
	}
	n := int(math.Ceil(res.DurationS))
	type key struct {
		stream string
		sec    int
	}
	buckets := map[key][]reports.Sample{}
	for _, s := range samples {
		sec := int(s.ScheduledS)
		buckets[key{s.Stream, sec}] = append(buckets[key{s.Stream, sec}], toSample(s))
	}
	ps := &perSecond{held: make([]bool, n)}
	for i := range ps.held {
		ps.held[i] = true
	}
	for _, slo := range res.SLOs {
		th, err := verdict.ParseThreshold(slo.Threshold)
		if err != nil {
			continue
		}
		for sec := 0; sec < n; sec++ {
			if phaseAt(res, float64(sec)+0.5) != slo.Phase && slo.Phase != reports.PhaseAll {
				continue
			}
			v, ok := th.Measure(buckets[key{slo.Stream, sec}], 1)
			if ok && !th.Holds(v) {
				ps.held[sec] = false
			}
		}
	}
	for _, h := range ps.held {
		if !h {
			ps.violated++
		}
	}
	return ps
}

// recoveredAfter is the time from heal to the start of the first second from which every
// second to the end held; the rest of the run when the SLOs never held again.
func (ps *perSecond) recoveredAfter(heal, duration float64) float64 {
	from := len(ps.held)
	for i := len(ps.held) - 1; i >= 0 && ps.held[i]; i-- {
		from = i
	}
	at := math.Max(float64(from), heal)
	if from >= len(ps.held) {
		at = duration
	}
	return math.Round((at-heal)*10) / 10
}

func phaseAt(res *reports.Results, t float64) string {
	for _, w := range res.Phases {
		if t >= w.StartS && t < w.EndS {
			return w.Name
		}
	}
	return ""
}

func toSample(s rundir.Sample) reports.Sample {
	return reports.Sample{Stream: s.Stream, Phase: s.Phase, Latency: msDuration(s.LatencyMs), Code: s.Code, Err: s.Error}
}

// okP99 is the p99 of a stream's successful requests in the fault phase.
func okP99(samples []rundir.Sample, stream string, fault reports.PhaseWindow) (float64, bool) {
	var sel []reports.Sample
	for _, s := range samples {
		if s.Stream == stream && s.ScheduledS >= fault.StartS && s.ScheduledS < fault.EndS {
			sel = append(sel, toSample(s))
		}
	}
	_, p99 := reports.OKLatencies(sel)
	if p99 == nil {
		return 0, false
	}
	return *p99, true
}

// overall ranks profiles by criteria won, then by mean rank of their means.
func overall(profiles []string, tables []Table) []Standing {
	st := make([]Standing, len(profiles))
	sum := make([]float64, len(profiles))
	for i, p := range profiles {
		st[i].Profile = p
	}
	for _, t := range tables {
		for _, r := range t.Rows {
			if r.Call == compare.CallBest && r.Winner >= 0 {
				st[r.Winner].Wins++
			}
			if r.Better == 0 {
				continue
			}
			var have []int
			for i, v := range r.Values {
				if v.N > 0 {
					have = append(have, i)
				}
			}
			if len(have) < 2 {
				continue
			}
			sort.SliceStable(have, func(a, b int) bool {
				if r.Better < 0 {
					return r.Values[have[a]].Mean < r.Values[have[b]].Mean
				}
				return r.Values[have[a]].Mean > r.Values[have[b]].Mean
			})
			for rank, i := range have {
				sum[i] += float64(rank + 1)
				st[i].Rows++
			}
		}
	}
	for i := range st {
		if st[i].Rows > 0 {
			st[i].MeanRank = math.Round(sum[i]/float64(st[i].Rows)*100) / 100
		}
	}
	sort.SliceStable(st, func(a, b int) bool {
		if st[a].Wins != st[b].Wins {
			return st[a].Wins > st[b].Wins
		}
		if (st[a].Rows == 0) != (st[b].Rows == 0) {
			return st[a].Rows > 0
		}
		return st[a].MeanRank < st[b].MeanRank
	})
	return st
}

// ErrNoRun is returned when no run of the tournament could be ranked.
var ErrNoRun = errors.New("tournament: no usable run")

// edges lists, sorted, the edges some run measured an amplification on.
func edges(per map[string][]scores) []string {
	seen := map[string]bool{}
	var out []string
	for _, runs := range per {
		for _, s := range runs {
			for k := range s {
				if e, ok := strings.CutPrefix(k, Amplification+" "); ok && !seen[e] {
					seen[e] = true
					out = append(out, e)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
