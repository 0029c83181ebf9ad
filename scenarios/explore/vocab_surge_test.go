package explore

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/scenarios"
)

const surgePair = "surge@create+latency-mild@link->link-db"

// pruneRule is the static rule that prunes an experiment of the full plan ("" when planned).
func pruneRule(t *testing.T, id string) string {
	t.Helper()
	a, b, pair := strings.Cut(id, "+")
	if !pair {
		pl := staticPlan(t, Options{Only: []string{id}})
		if len(pl.Singles) == 1 {
			return ""
		}
		for _, r := range pl.Pruned {
			if r.Rule != RuleNotSelected && slices.Contains(r.Examples, id) {
				return r.Rule
			}
		}
		return RuleNotSelected
	}
	pm := StaticMap(DefaultBase())
	fault := func(fid string) Fault {
		class, target, _ := strings.Cut(fid, "@")
		if class == ClassSurge {
			return Surge(target)
		}
		fs, err := Faults(profile(t, "default"), target)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.Class == class {
				return f
			}
		}
		t.Fatalf("no fault %s", fid)
		return Fault{}
	}
	fa, fb := fault(a), fault(b)
	kept := map[string]bool{}
	for _, f := range []Fault{fa, fb} {
		kept[f.ID()] = IsSurge(f) || (f.Target != "client->gateway" && len(pm.On(f.Target)) > 0)
	}
	rule, _ := pairRule(fa, fb, kept, pm, Options{})
	return rule
}

// Regression (issue 14 point 7): the overload scenarios' pair, a 3 × surge of creations while
// link->link-db is 50 ms away, is plannable by name, deterministic for a seed, and becomes a
// scenario whose create stream surges in the fault phase through the load's stages.
func TestSurgePairPlannedByName(t *testing.T) {
	o := Options{Seed: 3, Only: []string{surgePair}}
	pl := staticPlan(t, o)
	if len(pl.Singles) != 0 || len(pl.Pairs) != 1 || pl.Pairs[0].ID != surgePair {
		t.Fatalf("planned %+v %+v, want the pair %s alone", pl.Singles, pl.Pairs, surgePair)
	}
	if again := staticPlan(t, o); again.Text() != pl.Text() {
		t.Fatal("the same seed gave two plans")
	}
	x := pl.Pairs[0]
	s, l := x.Faults[0], x.Faults[1]
	if !IsSurge(s) || s.Target != "create" || s.Type != SurgeType || s.Params["factor"] != SurgeFactor || !strings.Contains(s.Why, fmt.Sprintf("%d ×", SurgeFactor)) {
		t.Errorf("surge %+v", s)
	}
	if l.Class != ClassMild || l.Params["latency"] != "50ms" {
		t.Errorf("mild latency %+v, want 50ms (0.1 × link->link-db's 500 ms)", l)
	}
	if !slices.Contains(x.Streams, "create") {
		t.Errorf("streams %v, want create among them", x.Streams)
	}
	// either order names it
	if sw := staticPlan(t, Options{Seed: 3, Only: []string{SwapPair(surgePair)}}); len(sw.Pairs) != 1 {
		t.Error("the swapped id planned nothing")
	}
	if !strings.Contains(pl.Text(), fmt.Sprintf("surge create factor=%d", SurgeFactor)) {
		t.Errorf("the dry run does not show the surge:\n%s", pl.Text())
	}

	b := DefaultBase()
	y, err := b.Experiment(x, "default")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Parse("x.yaml", y)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	ph := b.PhasesFor(x.Faults)
	if len(sc.Faults) != 1 || sc.Faults[0].Target() != "link->link-db" || !sc.Faults[0].Background ||
		sc.Faults[0].Start() != 0 || sc.Faults[0].End() != ph.Total() {
		t.Fatalf("faults %+v, want the latency alone (the surge is the load's), in the background for the whole run", sc.Faults)
	}
	// the surged stream keeps its SLOs around the surge; during it, its goodput (at least the
	// base rate) and its successes' latency; the other streams keep theirs in every phase
	r := b.Rates()["create"]
	var createFault, createRest, redirectFault []string
	for _, slo := range sc.SLOs {
		var th []string
		for _, x := range slo.Thresholds {
			th = append(th, x.Raw)
		}
		switch {
		case slo.Load == "create" && slices.Equal(slo.Phases, []string{reports.PhaseFault}):
			createFault = th
		case slo.Load == "create":
			createRest = append(createRest, slo.Phases...)
			if !slices.Equal(th, []string{"p(99)<950ms", "errors<1%"}) {
				t.Errorf("create outside the surge: %v, want the base's", th)
			}
		case slo.Load == "redirect" && slices.Contains(slo.Phases, reports.PhaseFault):
			redirectFault = th
		}
	}
	if want := []string{fmt.Sprintf("goodput>=%g/s", r), "p(99)_ok<950ms"}; !slices.Equal(createFault, want) {
		t.Errorf("create in the surge: %v, want %v", createFault, want)
	}
	if !slices.Equal(createRest, []string{reports.PhaseBaseline, reports.PhaseRecovery}) {
		t.Errorf("create's other SLO phases %v", createRest)
	}
	if !slices.Equal(redirectFault, []string{"p(99)<200ms", "errors<1%"}) {
		t.Errorf("redirect in the surge: %v, want the base's", redirectFault)
	}
	for _, st := range sc.Load {
		if st.Name != "create" {
			if len(st.Stages) > 0 {
				t.Errorf("%s surged too: %+v", st.Name, st.Stages)
			}
			continue
		}
		// the built-in mix's rate, SurgeFactor × in the fault phase
		want := []scenarios.Stage{{Rate: r, For: scenarios.Duration(ph.Baseline)}, {Rate: SurgeFactor * r, For: scenarios.Duration(ph.Fault)}, {Rate: r, For: scenarios.Duration(ph.Recovery)}}
		if !slices.Equal(st.Stages, want) {
			t.Errorf("create stages %+v, want %+v", st.Stages, want)
		}
	}
	// the surge cuts the same fault phase as the latency
	phases := sc.Phases()
	var fault []reports.PhaseWindow
	for _, w := range phases {
		if w.Name == reports.PhaseFault {
			fault = append(fault, w)
		}
	}
	if len(fault) != 1 || fault[0].StartS != ph.Baseline.Seconds() || fault[0].EndS != (ph.Baseline+ph.Fault).Seconds() {
		t.Errorf("fault phase %+v, want [%s, %s]", fault, ph.Baseline, ph.Baseline+ph.Fault)
	}
}

func TestSurgeVocabularyRules(t *testing.T) {
	pl := staticPlan(t, Options{Seed: 1, Pairs: true})
	ids := map[string]bool{}
	for _, x := range pl.Experiments() {
		ids[x.ID] = true
		if slices.ContainsFunc(x.Faults, IsSurge) && Groupable(x) {
			t.Errorf("%s: a surge is never grouped", x.ID)
		}
	}
	for _, s := range []string{"surge@create", "surge@redirect", "surge@stats", surgePair} {
		if !ids[s] {
			t.Errorf("%s not planned", s)
		}
	}
	for id, rule := range map[string]string{
		"latency-mild@link->link-db":                                      RuleUnderSurge, // alone it breaks nothing
		"refused@link->billing+latency-mild@link->link-db":                RuleUnderSurge,
		"surge@create+latency-gray@gateway->redirect":                     RuleNotOnePath, // creations never reach redirect
		"surge@create+latency-mild@client->gateway":                       RuleOutside,
		"latency-beyond@gateway->redirect+latency-mild@gateway->redirect": RuleSameTarget,
	} {
		if got := pruneRule(t, id); got != rule {
			t.Errorf("%s: pruned by %q, want %s", id, got, rule)
		}
	}
	// the redirect stream is not the redirect service: a surge of redirects with a crash of
	// the service is no "same target"
	for _, x := range pl.Pairs {
		if x.ID == "surge@redirect+crash@redirect" || x.ID == "crash@redirect+surge@redirect" {
			goto found
		}
	}
	t.Errorf("surge@redirect+crash@redirect not planned (pruned by %q)", pruneRule(t, "surge@redirect+crash@redirect"))
found:
	if got := len(pl.Singles) + len(pl.Pairs) + pl.PrunedTotal(); got != pl.Possible {
		t.Errorf("planned + pruned = %d, possible %d", got, pl.Possible)
	}
	// --faults surge plans one surge per stream; a surge of an unknown stream is refused
	only := staticPlan(t, Options{Seed: 1, Classes: []string{ClassSurge}})
	if len(only.Singles) != 3 {
		t.Errorf("--faults surge: %d singles, want 3", len(only.Singles))
	}
	if _, err := NewPlan(StaticMap(DefaultBase()), profile(t, "default"), Options{Only: []string{"surge@link->link-db"}}); err == nil {
		t.Error("a surge of an edge was accepted")
	}
	// flags are checked before the paths are known: a stream name passes then
	if _, err := NewPlan(PathMap{}, profile(t, "default"), Options{Only: []string{"surge@create"}, Targets: []string{"create"}}); err != nil {
		t.Error(err)
	}
}

// surgeResults is a run whose create stream sent achieved/s in the fault phase, asked asked/s,
// and broke its errors SLO there.
func surgeResults(achieved, asked float64, requests int) *reports.Results {
	return &reports.Results{Verdict: reports.VerdictFail, Valid: true,
		Streams: []reports.StreamResult{{Name: "create", Request: "POST /api/links", Phases: []reports.PhaseFigure{
			{Phase: reports.PhaseBaseline, Requests: 250, AchievedRate: 125, SendWindowS: 2, AskedRate: 125},
			{Phase: reports.PhaseFault, Requests: requests, AchievedRate: achieved, SendWindowS: 2.5, AskedRate: asked},
			{Phase: reports.PhaseRecovery, Requests: 250, AchievedRate: 125, SendWindowS: 2, AskedRate: 125},
		}}},
		SLOs: []reports.SLOResult{
			{Stream: "create", Phase: reports.PhaseBaseline, Threshold: "errors<1%", Unit: reports.UnitRatio, Pass: true},
			{Stream: "create", Phase: reports.PhaseFault, Threshold: "errors<1%", Value: 0.6, Unit: reports.UnitRatio, Pass: false},
			{Stream: "create", Phase: reports.PhaseRecovery, Threshold: "errors<1%", Unit: reports.UnitRatio, Pass: true},
		}}
}

// The landing rule: a surge landed when its stream's fault phase sent the surge rate (within
// SurgeLandSlack); else the measurement is invalid: never a pass, never a kill.
func TestSurgeLanding(t *testing.T) {
	faults := []Fault{Surge("create")}
	rates := map[string]float64{"create": 375.0 / SurgeFactor} // asks 375/s in the surge
	for _, c := range []struct {
		name            string
		achieved, asked float64
		requests        int
		landed          bool
	}{
		{"sent the surge", 374, 375, 935, true},
		{"a heal 100 ms late", 361, 361, 938, true},
		{"the generator fell behind", 300, 375, 750, false},
		{"the phase is mostly the base rate", 200, 200, 500, false},
		{"no request", 0, 375, 0, false},
	} {
		res := surgeResults(c.achieved, c.asked, c.requests)
		why := SurgeNotLanded(faults, res, rates)
		if (len(why) == 0) != c.landed {
			t.Errorf("%s: landed %v (%v), want %v", c.name, len(why) == 0, why, c.landed)
		}
		MarkSurgeLanding(faults, res, rates)
		out := rexplore.Classify(surgePair, faults, []string{"create"}, res, rates)
		cls := out.Streams["create"].Class
		switch {
		case c.landed && (cls != rexplore.Broken || !res.Valid):
			t.Errorf("%s: create %s (valid %v), want broken", c.name, cls, res.Valid)
		case !c.landed && (cls != rexplore.Unproven || res.Valid || out.Weak()):
			t.Errorf("%s: create %s (valid %v, weak %v), want unproven: a surge that did not land proves nothing", c.name, cls, res.Valid, out.Weak())
		}
	}
	// a pass on a surge that did not land is no pass either
	res := surgeResults(100, 375, 250)
	res.Verdict, res.SLOs = reports.VerdictPass, nil
	MarkSurgeLanding(faults, res, rates)
	if res.Verdict == reports.VerdictPass || res.Valid {
		t.Errorf("verdict %s, valid %v: want no pass", res.Verdict, res.Valid)
	}
	// without a surge the rule has nothing to say
	if why := SurgeNotLanded([]Fault{{Class: ClassGray, Type: "latency", Target: "link->link-db"}}, surgeResults(0, 0, 0), rates); len(why) != 0 {
		t.Errorf("no surge, yet %v", why)
	}
}
