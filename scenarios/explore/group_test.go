package explore

import (
	"github.com/faultline/faultline/reports"
	"strings"
	"testing"

	rexplore "github.com/faultline/faultline/reports/explore"
)

func single(class, target string, streams ...string) Experiment {
	f := Fault{Class: class, Type: "latency", Target: target}
	if class == ClassCrash {
		f.Type = "crash"
	}
	return Experiment{ID: f.ID(), Faults: []Fault{f}, Streams: streams}
}

func groupIDs(gs []Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

func TestMakeGroups(t *testing.T) {
	a := single(ClassRefused, "redirect->redis", "redirect")
	b := single(ClassRefused, "link->billing", "create")
	c := single(ClassRefused, "gateway->analytics", "stats")
	d := single(ClassGray, "redirect->link", "redirect")          // shares redirect with a
	e := single(ClassRefused, "gateway->link", "create", "stats") // shares with b and c
	crash := single(ClassCrash, "link-db", "create")              // stateful: alone
	offPath := single(ClassPause, "billing")                      // on no path: alone
	pair := Experiment{ID: "p", Faults: append(a.Faults, b.Faults...), Streams: []string{"redirect", "create"}}
	cases := []struct {
		name string
		in   []Experiment
		max  int
		want []string
	}{
		{"disjoint singles share one run", []Experiment{a, b, c}, 3, []string{a.ID + " & " + b.ID + " & " + c.ID}},
		{"at most max per group", []Experiment{a, b, c}, 2, []string{a.ID + " & " + b.ID, c.ID}},
		{"a shared stream starts another group; first fit keeps plan order", []Experiment{a, d, b, c},
			3, []string{a.ID + " & " + b.ID + " & " + c.ID, d.ID}},
		{"a single on two streams fits only where both are free", []Experiment{b, e, a, c}, 3,
			[]string{b.ID + " & " + a.ID + " & " + c.ID, e.ID}},
		{"a stateful crash, a pair and a fault on no path run alone", []Experiment{crash, a, pair, offPath, c}, 3,
			[]string{crash.ID, a.ID + " & " + c.ID, "p", offPath.ID}},
		{"max 1: no grouping", []Experiment{a, b}, 1, []string{a.ID, b.ID}},
		{"nothing", nil, 3, nil},
	}
	for _, tc := range cases {
		got := groupIDs(MakeGroups(tc.in, tc.max))
		if strings.Join(got, " | ") != strings.Join(tc.want, " | ") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	// every single is in exactly one group, and no two of a group share a stream
	pl := staticPlan(t, Options{Seed: 1})
	gs := MakeGroups(pl.Singles, 3)
	seen := map[string]int{}
	for _, g := range gs {
		streams := map[string]string{}
		for _, x := range g.Singles {
			seen[x.ID]++
			for _, s := range x.Streams {
				if other, ok := streams[s]; ok {
					t.Errorf("group %s: %s and %s share stream %s", g.ID, other, x.ID, s)
				}
				streams[s] = x.ID
			}
		}
		if ex := g.Experiment(); len(ex.Faults) != len(g.Singles) {
			t.Errorf("group %s: %d faults for %d singles", g.ID, len(ex.Faults), len(g.Singles))
		}
	}
	for _, x := range pl.Singles {
		if seen[x.ID] != 1 {
			t.Errorf("%s in %d groups", x.ID, seen[x.ID])
		}
	}
	t.Logf("recorded map: %d singles in %d runs", len(pl.Singles), len(gs))
}

func TestLanded(t *testing.T) {
	land := LandingOf([]reports.FaultEvent{
		{Fault: "partition", Target: "link->billing", Landing: &reports.Landing{Status: reports.LandingLanded, Evidence: "12 of 12 failed"}},
		{Fault: "partition", Target: "redirect->link", Landing: &reports.Landing{Status: reports.LandingNotLanded, Evidence: "no call: a cache answered every one"}},
		{Fault: "cpu", Target: "link", Landing: &reports.Landing{Status: reports.LandingUnchecked, Evidence: "a CPU share"}},
		{Fault: "crash", Target: "billing"}, // no landing recorded
	})
	cases := []struct {
		target string
		want   bool
	}{
		{"link->billing", true},
		{"redirect->link", false},
		{"link", false}, // unchecked is no evidence
		{"billing", false},
		{"redis", false},
	}
	for _, c := range cases {
		ok, why := land.Landed(Fault{Class: ClassRefused, Target: c.target})
		if ok != c.want {
			t.Errorf("%s: landed %v, want %v", c.target, ok, c.want)
		}
		if !ok && !strings.Contains(why, c.target) {
			t.Errorf("%s: why %q does not name the target", c.target, why)
		}
	}
}

func TestAttribute(t *testing.T) {
	a := single(ClassRefused, "redirect->redis", "redirect")
	b := single(ClassRefused, "link->billing", "create")
	c := single(ClassRefused, "gateway->analytics", "stats")
	g := MakeGroups([]Experiment{a, b, c}, 3)[0]
	held := func() rexplore.Outcome {
		return rexplore.Outcome{ID: g.ID, Valid: true, Verdict: "pass", Affected: []string{"redis"}, Streams: map[string]rexplore.StreamOutcome{
			"redirect": {Class: rexplore.Held}, "create": {Class: rexplore.Held}, "stats": {Class: rexplore.Held}}}
	}
	all := Landing{"redirect->redis": {Status: reports.LandingLanded}, "link->billing": {Status: reports.LandingLanded}, "gateway->analytics": {Status: reports.LandingLanded}}
	with := func(f func(*rexplore.Outcome)) rexplore.Outcome { o := held(); f(&o); return o }

	// a clean group: every single held, its own id, faults and path, marked with the group
	at := Attribute(g, held(), all)
	if len(at.Split) != 0 || len(at.Alone) != 0 || len(at.Held) != 3 {
		t.Fatalf("clean group: %+v", at)
	}
	for i, o := range at.Held {
		x := g.Singles[i]
		if o.ID != x.ID || len(o.Faults) != 1 || o.Faults[0].ID() != x.ID || o.Group != g.ID || o.Weak() ||
			strings.Join(o.OnPath, ",") != strings.Join(x.Streams, ",") {
			t.Errorf("attributed %+v for %s", o, x.ID)
		}
	}
	at.Held[0].Streams["stats"] = rexplore.StreamOutcome{Class: rexplore.Broken}
	if at.Held[2].Streams["stats"].Class != rexplore.Held {
		t.Error("the attributed outcomes share one map")
	}

	// what one single's path explains: that single runs alone, the others are proven held
	alone := []struct {
		name string
		out  rexplore.Outcome
		land Landing
		who  string
		why  string
	}{
		{"create broke: billing's fault", with(func(o *rexplore.Outcome) { o.Streams["create"] = rexplore.StreamOutcome{Class: rexplore.Broken} }), all, b.ID, "stream create broken"},
		{"stats slowed", with(func(o *rexplore.Outcome) { o.Streams["stats"] = rexplore.StreamOutcome{Class: rexplore.Slowed} }), all, c.ID, "stream stats slowed"},
		{"data lost on create", with(func(o *rexplore.Outcome) {
			o.Streams["create"] = rexplore.StreamOutcome{Class: rexplore.DataLost}
			o.Data = map[string]int{"lost_links": 1}
		}), all, b.ID, "stream create data-lost"},
		{"stats unproven", with(func(o *rexplore.Outcome) { o.Streams["stats"] = rexplore.StreamOutcome{Class: rexplore.Unproven} }), all, c.ID, "unproven"},
		{"stats not measured", with(func(o *rexplore.Outcome) { delete(o.Streams, "stats") }), all, c.ID, "not measured"},
		{"a fault did not land", held(), Landing{"redirect->redis": {Status: reports.LandingLanded}, "link->billing": {Status: reports.LandingLanded}}, c.ID, "did not land: no landing recorded for gateway->analytics"},
	}
	for _, s := range alone {
		at := Attribute(g, s.out, s.land)
		if len(at.Split) != 0 || len(at.Alone) != 1 || at.Alone[0].ID != s.who || len(at.Held) != 2 {
			t.Errorf("%s: held %d, alone %v, split %v; want %s alone, 2 held", s.name, len(at.Held), groupIDs([]Group{{ID: "", Singles: at.Alone}}), at.Split, s.who)
			continue
		}
		if !strings.Contains(at.Why[s.who], s.why) {
			t.Errorf("%s: why %q, want %q in it", s.name, at.Why[s.who], s.why)
		}
		for _, o := range at.Held {
			if o.ID == s.who || o.Weak() || len(o.Data) > 0 {
				t.Errorf("%s: %s attributed as held: %+v", s.name, o.ID, o)
			}
			for n, so := range o.Streams {
				own := strings.Contains(strings.Join(o.OnPath, ","), n)
				if !own && so.Class != rexplore.Unproven {
					t.Errorf("%s: %s speaks for %s (%s), another fault's stream", s.name, o.ID, n, so.Class)
				}
			}
		}
	}
	// what no single's path explains bisects the whole group
	splits := []struct {
		name string
		out  rexplore.Outcome
		why  string
	}{
		{"a retry storm", with(func(o *rexplore.Outcome) { o.Storms = []rexplore.RetryStorm{{Edge: "link->billing", MaxRetries: 3}} }), "retry storm on link->billing"},
		{"a stream on no path broke", with(func(o *rexplore.Outcome) { o.Streams["get"] = rexplore.StreamOutcome{Class: rexplore.Broken} }), "stream get broken, on no single's path"},
		{"invalid run", with(func(o *rexplore.Outcome) { o.Valid = false }), "proved nothing"},
		{"run error", with(func(o *rexplore.Outcome) { o.Verdict = "error" }), "proved nothing"},
	}
	for _, s := range splits {
		at := Attribute(g, s.out, all)
		if len(at.Held) != 0 || len(at.Alone) != 0 {
			t.Errorf("%s: attributed %d held, %d alone", s.name, len(at.Held), len(at.Alone))
		}
		if len(at.Split) != 2 || len(at.Split[0]) != 2 || len(at.Split[1]) != 1 || at.Split[0][0].ID != a.ID || at.Split[1][0].ID != c.ID {
			t.Errorf("%s: split %v, want [a b] [c]", s.name, at.Split)
		}
		if !strings.Contains(at.SplitWhy, s.why) {
			t.Errorf("%s: why %q, want %q in it", s.name, at.SplitWhy, s.why)
		}
	}
	// a group of one is the single's own run: judged as it is, never split
	one := MakeGroups([]Experiment{a}, 3)[0]
	if at := Attribute(one, with(func(o *rexplore.Outcome) { o.Valid = false }), nil); len(at.Split)+len(at.Alone)+len(at.Held) != 0 {
		t.Errorf("a single was split or attributed: %+v", at)
	}
	// bisection ends: halves of halves reach singles
	four := MakeGroups([]Experiment{a, b, c, single(ClassReset, "gateway->link", "x")}, 4)[0]
	invalid := with(func(o *rexplore.Outcome) { o.Valid = false })
	queue, runs := []Group{four}, 0
	for len(queue) > 0 && runs < 20 {
		g := queue[0]
		queue = queue[1:]
		runs++
		for _, half := range Attribute(g, invalid, all).Split {
			queue = append(queue, Group{ID: groupID(half), Singles: half})
		}
	}
	if runs != 7 { // 4 → 2+2 → 1+1+1+1
		t.Errorf("bisecting an invalid group of 4 took %d runs, want 7", runs)
	}
}

// A group runs as one generated scenario: a valid name, every single's fault in it.
func TestGroupScenario(t *testing.T) {
	pl := staticPlan(t, Options{Seed: 1})
	for _, g := range MakeGroups(pl.Singles, 3) {
		if len(g.Singles) < 2 {
			continue
		}
		y, err := DefaultBase().Experiment(g.Experiment(), "default")
		if err != nil {
			t.Fatalf("group %s: %v", g.ID, err)
		}
		if n := strings.Count(string(y), "\n  - {at: "); n != len(g.Singles) {
			t.Errorf("group %s: %d faults in its scenario, want %d:\n%s", g.ID, n, len(g.Singles), y)
		}
	}
}
