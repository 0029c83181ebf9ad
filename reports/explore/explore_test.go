package explore

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// plenty is each phase's figures with enough requests for any threshold of the tests.
var plenty = []reports.PhaseFigure{{Phase: "baseline", Requests: 1000}, {Phase: "fault", Requests: 1000}, {Phase: "recovery", Requests: 1000}}

func results(slos []reports.SLOResult, data *reports.DataSafety) *reports.Results {
	return &reports.Results{Verdict: reports.VerdictFail, Valid: true, SLOs: slos, DataSafety: data,
		Streams:     []reports.StreamResult{{Name: "redirect", Request: "GET /r/{code}", Phases: plenty}, {Name: "create", Request: "POST /api/links", Phases: plenty}},
		BlastRadius: &reports.BlastRadius{AffectedServices: []string{"link", "gateway"}, UserImpact: map[string]float64{"redirect": 0, "create": 0.5}}}
}

func slo(stream, phase, th string, unit string, v float64, pass bool) reports.SLOResult {
	return reports.SLOResult{Stream: stream, Phase: phase, Threshold: th, Unit: unit, Value: v, Pass: pass}
}

var settled = &reports.DataSafety{Settled: true}

func TestClassify(t *testing.T) {
	rates := map[string]float64{"redirect": 50, "create": 5}
	cases := []struct {
		name   string
		res    *reports.Results
		want   map[string]string
		weak   bool
		reason string
	}{
		{"held", results([]reports.SLOResult{
			slo("redirect", "fault", "p(99)<200ms", reports.UnitMs, 5, true),
			slo("create", "fault", "errors<1%", reports.UnitRatio, 0, true)}, settled),
			map[string]string{"redirect": Held, "create": Held}, false, ""},
		{"slowed and broken", results([]reports.SLOResult{
			slo("redirect", "fault", "p(99)<200ms", reports.UnitMs, 450, false),
			slo("create", "fault", "errors<1%", reports.UnitRatio, 0.4, false),
			slo("create", "fault", "p(99)<1s", reports.UnitMs, 1500, false)}, settled),
			map[string]string{"redirect": Slowed, "create": Broken}, true, ""},
		{"links lost", results([]reports.SLOResult{
			slo("create", "fault", "errors<1%", reports.UnitRatio, 0, true)}, &reports.DataSafety{Settled: true, LostLinks: 3}),
			map[string]string{"redirect": Held, "create": DataLost}, true, ""},
		{"clicks lost", results(nil, &reports.DataSafety{Settled: true, MissingClicks: 7}),
			map[string]string{"redirect": DataLost, "create": Held}, true, ""},
		// no false pass: a threshold on no requests proves nothing
		{"no data", results([]reports.SLOResult{{Stream: "create", Phase: "fault", Threshold: "errors<1%", NoData: true}}, settled),
			map[string]string{"redirect": Held, "create": Unproven}, false, ""},
		// a baseline that already failed: the fault is not what broke it
		{"baseline failed", results([]reports.SLOResult{slo("redirect", "baseline", "p(99)<200ms", reports.UnitMs, 900, false)}, settled),
			map[string]string{"redirect": Unproven, "create": Held}, false, ""},
		// an invalid measurement is never a pass and never a weak spot
		{"invalid", func() *reports.Results {
			r := results([]reports.SLOResult{slo("create", "fault", "errors<1%", reports.UnitRatio, 0.5, false)}, settled)
			r.Valid, r.InvalidReasons = false, []string{"load generator fell behind"}
			return r
		}(), map[string]string{"redirect": Unproven, "create": Unproven}, false, "load generator fell behind"},
		{"unsettled data check", results(nil, &reports.DataSafety{Settled: false}),
			map[string]string{"redirect": Unproven, "create": Unproven}, false, ""},
		// no false pass on too few requests: errors<1% passed on 30 creations proves nothing
		// (verdict.Threshold.MinSamples: 100), nor p(99) on 99; a failure on few is evidence
		{"too few requests", fewer(results([]reports.SLOResult{
			slo("create", "fault", "errors<1%", reports.UnitRatio, 0, true),
			slo("redirect", "fault", "p(99)<200ms", reports.UnitMs, 5, true)}, settled), 30, 99, 0),
			map[string]string{"redirect": Unproven, "create": Unproven}, false, ""},
		// the baseline is shorter than the checks' counts (explore.BaselineShare): its pass on
		// 40 creations forbids nothing, and proves nothing either — held rests on the fault
		// and the recovery, each with its full count
		{"a baseline pass on few requests", func() *reports.Results {
			r := results([]reports.SLOResult{
				slo("create", "baseline", "errors<1%", reports.UnitRatio, 0, true),
				slo("create", "fault", "errors<1%", reports.UnitRatio, 0, true),
				slo("create", "recovery", "errors<1%", reports.UnitRatio, 0, true)}, settled)
			r.Streams[1].Phases = []reports.PhaseFigure{{Phase: "baseline", Requests: 40}, {Phase: "fault", Requests: 125}, {Phase: "recovery", Requests: 125}}
			return r
		}(), map[string]string{"redirect": Held, "create": Held}, false, ""},
		{"a baseline pass on few beside a fault pass on few", func() *reports.Results {
			r := results([]reports.SLOResult{
				slo("create", "baseline", "errors<1%", reports.UnitRatio, 0, true),
				slo("create", "fault", "errors<1%", reports.UnitRatio, 0, true)}, settled)
			r.Streams[1].Phases = []reports.PhaseFigure{{Phase: "baseline", Requests: 40}, {Phase: "fault", Requests: 60}, {Phase: "recovery", Requests: 125}}
			return r
		}(), map[string]string{"redirect": Held, "create": Unproven}, false, ""},
		{"a failure on few requests is evidence", fewer(results([]reports.SLOResult{
			slo("create", "fault", "errors<1%", reports.UnitRatio, 0.5, false)}, settled), 30, 1000, 0),
			map[string]string{"redirect": Held, "create": Broken}, true, ""},
		// a latency of successful requests only counts the successes: 120 requests, 40 failed
		{"_ok counts successes", fewer(results([]reports.SLOResult{
			slo("create", "fault", "p(99)_ok<1s", reports.UnitMs, 5, true)}, settled), 120, 1000, 40),
			map[string]string{"redirect": Held, "create": Unproven}, false, ""},
		// CI (stop 26): unbounded-bulkhead's creations failed goodput in the fault and 34 % in
		// the recovery, while p(99)_ok in the fault passed on 87 successes: the measured
		// failures make it broken, the underpowered pass only forbids held
		{"a failure beside a pass on too few", fewer(results([]reports.SLOResult{
			slo("create", "fault", "p(99)_ok<950ms", reports.UnitMs, 600, true),
			slo("create", "fault", "goodput>=50/s", reports.UnitPerS, 34.8, false),
			slo("create", "recovery", "errors<1%", reports.UnitRatio, 0.336, false)}, settled), 500, 1000, 413),
			map[string]string{"redirect": Held, "create": Broken}, true, ""},
		{"a slow phase beside one with no requests", results([]reports.SLOResult{
			{Stream: "create", Phase: "fault", Threshold: "errors<1%", NoData: true},
			slo("create", "recovery", "p(99)<1s", reports.UnitMs, 1500, false)}, settled),
			map[string]string{"redirect": Held, "create": Slowed}, true, ""},
		// a failed baseline outranks every later failure: none of them is the fault's
		{"baseline failed, then the fault too", results([]reports.SLOResult{
			slo("create", "baseline", "errors<1%", reports.UnitRatio, 0.2, false),
			slo("create", "fault", "errors<1%", reports.UnitRatio, 0.9, false)}, settled),
			map[string]string{"redirect": Held, "create": Unproven}, false, ""},
		// an unfinished data check proves no held, and takes no measured failure away
		{"broken, data check unfinished", results([]reports.SLOResult{
			slo("create", "fault", "errors<1%", reports.UnitRatio, 0.5, false)}, &reports.DataSafety{Settled: false}),
			map[string]string{"redirect": Unproven, "create": Broken}, true, ""},
		{"just enough", fewer(results([]reports.SLOResult{
			slo("create", "fault", "errors<1%", reports.UnitRatio, 0, true),
			slo("redirect", "fault", "p(99)<200ms", reports.UnitMs, 5, true)}, settled), 100, 100, 0),
			map[string]string{"redirect": Held, "create": Held}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Classify("x", nil, []string{"create"}, c.res, rates)
			for s, want := range c.want {
				if got := o.Streams[s].Class; got != want {
					t.Errorf("%s: got %s, want %s (%s)", s, got, want, o.Streams[s].Why)
				}
			}
			if o.Weak() != c.weak {
				t.Errorf("weak = %v, want %v", o.Weak(), c.weak)
			}
			if c.reason != "" && !strings.Contains(strings.Join(o.Reasons, ";"), c.reason) {
				t.Errorf("reasons %v lack %q", o.Reasons, c.reason)
			}
		})
	}
}

// fewer sets the fault phase's requests of create and redirect, and create's errors there.
func fewer(r *reports.Results, create, redirect, createErrors int) *reports.Results {
	for i, st := range r.Streams {
		n, e := redirect, 0
		if st.Name == "create" {
			n, e = create, createErrors
		}
		r.Streams[i].Phases = []reports.PhaseFigure{{Phase: "baseline", Requests: 1000}, {Phase: "fault", Requests: n, Errors: e}, {Phase: "recovery", Requests: 1000}}
	}
	return r
}

func outcome(id string, classes map[string]string, affected []string, data map[string]int, impact float64) Outcome {
	o := Outcome{ID: id, Streams: map[string]StreamOutcome{}, Affected: affected, Data: data, Valid: true}
	for s, c := range classes {
		so := StreamOutcome{Class: c, Rate: 10, Impact: impact}
		if c != Held {
			so.Failed = []string{"fault errors<1%: 50.0%"}
		}
		o.Streams[s] = so
	}
	return o
}

func TestCollapseAndRank(t *testing.T) {
	outs := []Outcome{
		outcome("a", map[string]string{"create": Broken}, []string{"link"}, nil, 0.2),
		outcome("b", map[string]string{"create": Broken}, []string{"link"}, nil, 0.9), // same signature as a
		outcome("c", map[string]string{"create": Held}, nil, nil, 0),
		outcome("d", map[string]string{"create": Held}, nil, nil, 0), // held: never collapsed
		outcome("e", map[string]string{"create": DataLost}, []string{"link"}, map[string]int{"lost_links": 2}, 0.01),
		outcome("f", map[string]string{"create": Slowed}, []string{"billing"}, nil, 0.5),
	}
	if n := Collapse(outs); n != 1 || outs[1].SameAs != "a" || outs[3].SameAs != "" {
		t.Fatalf("collapsed %d; b.SameAs=%q d.SameAs=%q", n, outs[1].SameAs, outs[3].SameAs)
	}
	var got []string
	for _, o := range WeakSpots(outs) {
		got = append(got, o.ID)
	}
	// data loss first, then requests per second hurt
	if want := "e,f,a"; strings.Join(got, ",") != want {
		t.Fatalf("ranking %v, want %s", got, want)
	}
}

func TestCompareProfiles(t *testing.T) {
	a := &Exploration{Profile: "default", Outcomes: []Outcome{
		outcome("x", map[string]string{"create": Held}, nil, nil, 0),
		outcome("y", map[string]string{"create": Broken}, nil, nil, 1),
		outcome("z", map[string]string{"create": Unproven}, nil, nil, 0),
	}}
	b := &Exploration{Profile: "no-fallback", Outcomes: []Outcome{
		outcome("x", map[string]string{"create": Broken}, nil, nil, 1),
		outcome("y", map[string]string{"create": Broken}, nil, nil, 1),
		outcome("z", map[string]string{"create": Broken}, nil, nil, 1),
	}}
	// the mutant lost data on create, its redirect check did not settle: create, proven
	// under both, still tells them apart
	a.Outcomes = append(a.Outcomes, outcome("w", map[string]string{"create": Held, "redirect": Held}, nil, nil, 0))
	b.Outcomes = append(b.Outcomes, outcome("w", map[string]string{"create": DataLost, "redirect": Unproven}, nil, map[string]int{"lost_link_events": 3}, 0))
	d := Compare(a, b)
	if strings.Join(d.OnlyB, ",") != "w,x" || strings.Join(d.Both, ",") != "y" || len(d.OnlyA) != 0 {
		t.Fatalf("diff %+v", d)
	}
	// unproven under default: not a difference anyone may claim
	if strings.Join(d.Uncompared, ",") != "z" {
		t.Fatalf("uncompared %v, want z", d.Uncompared)
	}
}

func fixture() *Report {
	ex := &Exploration{Profile: "default", Scenario: "explore-steady", Seed: 1, MapSource: "baseline run runs/x/baseline",
		DurationS: 120, Streams: []string{"create", "redirect"}, Possible: 83, Planned: 3, Explored: 3, Systems: 2,
		Pruned: []PrunedRule{{Rule: "off-path", Why: "no stream's path touches the target", Count: 5}, {Rule: "outside-the-system", Why: "the load generator's own link", Count: 5}},
		Outcomes: []Outcome{
			{ID: "partition@link->billing", OnPath: []string{"create"}, Valid: true, Dir: "experiments/001",
				Faults:   []Fault{{Class: "partition", Type: "partition", Target: "link->billing", Why: "proxy disabled"}},
				Streams:  map[string]StreamOutcome{"create": {Class: Held, Rate: 5}, "redirect": {Class: Held, Rate: 50}},
				Affected: []string{"billing"}},
			{ID: "latency-beyond@link->link-db", OnPath: []string{"create", "redirect"}, Valid: true, Dir: "experiments/002",
				Faults:   []Fault{{Class: "latency-beyond", Type: "latency", Target: "link->link-db", Params: map[string]any{"latency": "750ms"}, Why: "1.5 × the caller's timeout 500ms"}},
				Streams:  map[string]StreamOutcome{"create": {Class: Broken, Rate: 5, Impact: 1, Failed: []string{"fault errors<1%: 100.0%"}}, "redirect": {Class: Held, Rate: 50}},
				Affected: []string{"gateway", "link"}},
			{ID: "crash@redis", OnPath: []string{"redirect"}, Valid: true, Dir: "experiments/003", Fresh: true,
				Faults:  []Fault{{Class: "crash", Type: "crash", Target: "redis"}},
				Streams: map[string]StreamOutcome{"create": {Class: Held, Rate: 5}, "redirect": {Class: DataLost, Rate: 50, Impact: 0.02, Why: "data lost: missing_clicks 4"}},
				Data:    map[string]int{"missing_clicks": 4}},
		},
		Scenarios: map[string]string{"crash@redis": "scenarios/weak-crash-redis.yaml"},
	}
	return NewReport([]*Exploration{ex})
}

func TestRenderGolden(t *testing.T) {
	r := fixture()
	for _, f := range []struct {
		name   string
		render func(*bytes.Buffer) error
	}{
		{"report.md", func(b *bytes.Buffer) error { return r.Markdown(b) }},
		{"report.json", func(b *bytes.Buffer) error { return r.JSON(b) }},
		{"report.html", func(b *bytes.Buffer) error { return r.HTML(b) }},
	} {
		var b bytes.Buffer
		if err := f.render(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, f.name, b.Bytes())
	}
	if got := r.Explorations[0].Headline(); got != "explored 3 of 83 possible experiments, pruned 10 (5 off-path, 5 outside-the-system)" {
		t.Errorf("headline %q", got)
	}
	if r.WeakSpotCount() != 2 {
		t.Errorf("weak spots %d, want 2", r.WeakSpotCount())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking)", name)
	}
}

// A retry storm is a finding of its own: calls that retried back to back on an edge (from
// the attempt spans), even when every stream's SLO held; backed-off retries or a single
// retry are no storm, and an invalid run shows none.
func TestRetryStorm(t *testing.T) {
	held := []reports.SLOResult{slo("create", reports.PhaseFault, "errors<1%", reports.UnitRatio, 0, true)}
	mech := func(max int, gapMs float64) *reports.Mechanisms {
		return &reports.Mechanisms{MaxRetriesPerCall: map[string]int{"link->billing": max, "gateway->link": 0},
			RetryGaps: map[string]reports.RetryGap{"link->billing": {Gaps: 9, MinMs: gapMs / 2, MedianMs: gapMs}}}
	}
	cases := []struct {
		name  string
		m     *reports.Mechanisms
		valid bool
		storm bool
	}{
		{"no backoff, 4 retries", mech(4, 0.31), true, true},
		{"backed off (default: 1 retry, 14 ms)", mech(1, 14.4), true, false},
		{"two retries with backoff", mech(2, 20), true, false},
		{"one retry at once is no storm", mech(1, 0.1), true, false},
		{"no mechanisms", nil, true, false},
		{"invalid run", mech(4, 0.31), false, false},
	}
	for _, c := range cases {
		res := results(held, settled)
		res.Mechanisms, res.Valid = c.m, c.valid
		o := Classify("latency-beyond@link->billing", nil, []string{"create"}, res, map[string]float64{"create": 5})
		if got := len(o.Storms) > 0; got != c.storm {
			t.Errorf("%s: storm %v, want %v (%+v)", c.name, got, c.storm, o.Storms)
		}
		if c.storm {
			if !o.Weak() || o.Storms[0].Edge != "link->billing" || o.Storms[0].MaxRetries != 4 {
				t.Errorf("%s: %+v weak %v", c.name, o.Storms, o.Weak())
			}
			if !strings.Contains(o.Signature(), "storms=link->billing") {
				t.Errorf("the signature ignores the storm: %s", o.Signature())
			}
		}
	}
	// a storm the other profile did not make is the diff's finding
	res := results(held, settled)
	calm := Classify("x", nil, []string{"create"}, res, nil)
	res = results(held, settled)
	res.Mechanisms = mech(4, 0.31)
	storm := Classify("x", nil, []string{"create"}, res, nil)
	d := Compare(&Exploration{Profile: "default", Outcomes: []Outcome{calm}}, &Exploration{Profile: "no-backoff", Outcomes: []Outcome{storm}})
	if len(d.OnlyB) != 1 || len(d.OnlyA) != 0 {
		t.Errorf("diff %+v, want the storm on no-backoff's side", d)
	}
	d = Compare(&Exploration{Profile: "a", Outcomes: []Outcome{storm}}, &Exploration{Profile: "b", Outcomes: []Outcome{storm}})
	if len(d.Both) != 1 {
		t.Errorf("a storm under both is not a difference: %+v", d)
	}
	head, rows := (&Exploration{Streams: []string{"create"}, Outcomes: []Outcome{calm, storm}}).Matrix()
	if head[len(head)-1] != "retry storm" || rows[1][len(rows[1])-1] != "link->billing" || rows[0][len(rows[0])-1] != "" {
		t.Errorf("matrix %v %v", head, rows)
	}
}

// TestMarkCovered: a pair that only repeats what one of its faults did alone is no weak spot;
// a pair that does worse, or hurts a stream neither single hurt, is, on its new damage alone.
func TestMarkCovered(t *testing.T) {
	fa := Fault{Class: "refused", Target: "link->link-db"}
	fb := Fault{Class: "pause", Target: "analytics-db"}
	fc := Fault{Class: "latency-gray", Target: "redirect->redis"}
	single := func(f Fault, classes map[string]string, data map[string]int) Outcome {
		o := outcome(f.ID(), classes, []string{"gateway"}, data, 1)
		o.Faults = []Fault{f}
		return o
	}
	pair := func(fs []Fault, classes map[string]string, data map[string]int) Outcome {
		o := outcome(fs[0].ID()+"+"+fs[1].ID(), classes, []string{"gateway", "link"}, data, 1)
		o.Faults = fs
		return o
	}
	a := single(fa, map[string]string{"create": Broken, "stats": Held, "redirect": Held}, nil)
	b := single(fb, map[string]string{"create": Held, "stats": Broken, "redirect": Held}, nil)
	c := single(fc, map[string]string{"create": Held, "stats": Held, "redirect": Slowed}, nil)
	c.Storms = []RetryStorm{{Edge: "redirect->redis", MaxRetries: 3}}
	singles := []Outcome{a, b, c}

	// The union of its singles' damage: covered everywhere, not weak, no impact, no signature.
	ab := pair([]Fault{fa, fb}, map[string]string{"create": Broken, "stats": Broken, "redirect": Held}, nil)
	MarkCovered(&ab, singles)
	if ab.Streams["create"].CoveredBy != a.ID || ab.Streams["stats"].CoveredBy != b.ID || ab.Streams["redirect"].CoveredBy != "" {
		t.Fatalf("covered: %+v", ab.Streams)
	}
	if ab.Weak() || !ab.Hurt() {
		t.Errorf("a pair repeating its singles: weak %v, hurt %v", ab.Weak(), ab.Hurt())
	}
	if _, perS := ab.Impact(); perS != 0 {
		t.Errorf("covered impact %v, want 0", perS)
	}

	// Worse than its single (slowed alone, broken in the pair) and a stream no single hurt:
	// weak, its impact the new damage only; the storm its single made is covered.
	ac := pair([]Fault{fa, fc}, map[string]string{"create": Broken, "stats": Slowed, "redirect": Broken}, nil)
	ac.Storms = []RetryStorm{{Edge: "redirect->redis", MaxRetries: 3}}
	MarkCovered(&ac, singles)
	if ac.Streams["redirect"].CoveredBy != "" || ac.Streams["stats"].CoveredBy != "" || ac.Streams["create"].CoveredBy != a.ID || ac.Storms[0].CoveredBy != c.ID {
		t.Fatalf("covered: %+v %+v", ac.Streams, ac.Storms)
	}
	if !ac.Weak() {
		t.Error("a pair with new damage is not weak")
	}
	if _, perS := ac.Impact(); perS != 20 {
		t.Errorf("impact %v/s, want 20 (redirect and stats, not create)", perS)
	}
	if strings.Contains(ac.Signature(), "create") || strings.Contains(ac.Signature(), "storms") {
		t.Errorf("signature holds covered damage: %s", ac.Signature())
	}

	// A single whose measurement was invalid covers nothing; data lost the single lost too is
	// known, a pair's own data loss is news.
	inv := single(fa, map[string]string{"create": Broken}, nil)
	inv.Valid = false
	x := pair([]Fault{fa, fb}, map[string]string{"create": Broken}, nil)
	MarkCovered(&x, []Outcome{inv})
	if x.Streams["create"].CoveredBy != "" {
		t.Error("an invalid single covered a pair")
	}
	lost := single(fb, map[string]string{"stats": DataLost}, map[string]int{"lost_link_events": 3})
	y := pair([]Fault{fa, fb}, map[string]string{"stats": DataLost}, map[string]int{"lost_link_events": 5})
	MarkCovered(&y, []Outcome{lost})
	if n, _ := y.Impact(); n != 0 || y.Weak() {
		t.Errorf("covered data loss: impact %d, weak %v", n, y.Weak())
	}
	z := pair([]Fault{fa, fb}, map[string]string{"stats": DataLost}, map[string]int{"lost_link_events": 5})
	MarkCovered(&z, []Outcome{b})
	if n, _ := z.Impact(); n != 5 || !z.Weak() {
		t.Errorf("new data loss: impact %d, weak %v", n, z.Weak())
	}

	// As broken, but an SLO the single held: the pair kept the stream from recovering.
	w := pair([]Fault{fa, fb}, map[string]string{"create": Broken}, nil)
	cs := w.Streams["create"]
	cs.Failed = []string{"fault errors<1%: 100.0%", "recovery errors<1%: 60.0%"}
	w.Streams["create"] = cs
	MarkCovered(&w, singles)
	if w.Streams["create"].CoveredBy != "" || !w.Weak() {
		t.Errorf("a pair that broke the recovery its single did not was covered: %+v", w.Streams["create"])
	}

	// A single is never marked; the report names what is known.
	MarkCovered(&a, singles)
	if a.Streams["create"].CoveredBy != "" {
		t.Error("a single was marked covered")
	}
	ex := &Exploration{Profile: "default", Streams: []string{"create", "redirect", "stats"}, Outcomes: []Outcome{a, b, c, ab, ac}}
	if w := WeakSpots(ex.Outcomes); slices.ContainsFunc(w, func(o Outcome) bool { return o.ID == ab.ID }) {
		t.Error("the covered pair is listed as a weak spot")
	}
	var md bytes.Buffer
	if err := (&Report{Explorations: []*Exploration{ex}}).Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"create **broken** (user impact 100.0%): fault errors<1%: 50.0% — known: as bad under refused@link->link-db alone", "| refused@link->link-db+pause@analytics-db | broken* | · | broken* |", "| broken* | broken | slowed | redirect->redis* |", CoverNote,
		"retry storm (traces): redirect->redis: 3 retries in one call, 0.00 ms median between attempts — known: under latency-gray@redirect->redis alone too"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	// Comparing profiles still sees the pair's damage.
	if d := Compare(&Exploration{Profile: "p", Outcomes: []Outcome{ab}}, &Exploration{Profile: "q", Outcomes: []Outcome{ab}}); len(d.Both) != 1 {
		t.Errorf("compare: %+v", d)
	}
}
