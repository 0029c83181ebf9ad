package traces

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// bounds parses user-impact bounds as scenario validation does.
func bounds(m map[string]string) map[string]reports.Bound {
	out := map[string]reports.Bound{}
	for k, v := range m {
		b, err := reports.ParseBound(v)
		if err != nil {
			panic(err)
		}
		out[k] = b
	}
	return out
}

func intp(v int) *int { return &v }

func TestJudgeFixture(t *testing.T) {
	spans := loadFixture(t)
	br := BlastRadius(spans, fixturePhases, fixtureStart, []string{"link->link-db"}, reports.BlastThresholds{},
		map[string]float64{"redirect": 0, "create": 0.3})
	m := Mechanisms(spans, fixturePhases, fixtureStart, fixtureFaults, nil)
	for _, c := range []struct {
		name string
		exp  Expect
		pass []bool
		obs  string // part of the first line's observation
	}{
		{"contained", Expect{ContainedTo: []string{"link", "gateway"}}, []bool{true}, "affected: [gateway, link, link-db]"},
		{"not contained", Expect{ContainedTo: []string{"link"}}, []bool{false}, "outside the list: [gateway]"},
		{"unaffected", Expect{Unaffected: []string{"redirect", "analytics", "gateway->redirect"}}, []bool{true, true, true}, "not affected"},
		{"unaffected but affected", Expect{Unaffected: []string{"gateway"}}, []bool{false}, "affected: p99"},
		{"unaffected without spans", Expect{Unaffected: []string{"billing-db"}}, []bool{false}, "no spans for billing-db"},
		{"unaffected without enough calls", Expect{Unaffected: []string{"redirect->link"}}, []bool{false}, "unproven: 6 fault-phase calls"},
		{"user impact", Expect{UserImpact: bounds(map[string]string{"redirect": "0%", "create": "<=5%"})}, []bool{false, true}, "30.00%"},
		{"user impact unmeasured", Expect{UserImpact: bounds(map[string]string{"stats": "0%"})}, []bool{false}, "no requests of stream stats"},
		{"max affected", Expect{MaxAffectedServices: intp(2)}, []bool{true}, "2 [gateway, link]"},
		{"max affected exceeded", Expect{MaxAffectedServices: intp(1)}, []bool{false}, ""},
		{"breaker in time", Expect{Breakers: []BreakerExpect{{Edge: "redirect->link", OpensWithin: 2 * time.Second, ClosesWithin: 10 * time.Second}}}, []bool{true, true}, "opened after 1.129s"},
		{"breaker too slow", Expect{Breakers: []BreakerExpect{{Edge: "redirect->link", OpensWithin: time.Second, ClosesWithin: 5 * time.Second}}}, []bool{false, false}, ""},
		{"breaker never opened", Expect{Breakers: []BreakerExpect{{Edge: "gateway->link"}}}, []bool{false}, "never opened"},
		{"breaker unknown", Expect{Breakers: []BreakerExpect{{Edge: "link->billing-db", OpensWithin: time.Second}}}, []bool{false}, "no breaker state observed"},
		{"retries", Expect{MaxRetriesPerRequest: map[string]float64{"redirect->link": 2}}, []bool{true}, "2 at most in one call (mean 0.1)"},
		// One call retried twice: the mean of 0.1 would pass a bound of 1, the call does not.
		{"retries beyond the bound in one call", Expect{MaxRetriesPerRequest: map[string]float64{"redirect->link": 1}}, []bool{false}, "2 at most"},
		{"retries unknown", Expect{MaxRetriesPerRequest: map[string]float64{"redirect->redis": 1}}, []bool{false}, "no retry data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lines := Judge(c.exp, br, m)
			if len(lines) != len(c.pass) {
				t.Fatalf("%d lines, want %d: %+v", len(lines), len(c.pass), lines)
			}
			for i, l := range lines {
				if l.Pass != c.pass[i] {
					t.Errorf("line %d %+v: pass = %v, want %v", i, l, l.Pass, c.pass[i])
				}
			}
			if !strings.Contains(lines[0].Observed, c.obs) {
				t.Errorf("observed %q, want it to mention %q", lines[0].Observed, c.obs)
			}
		})
	}
}

// TestJudgeNoData: with nothing observed every expectation fails, none passes silently.
func TestJudgeNoData(t *testing.T) {
	exp := Expect{
		ContainedTo:          []string{"link"},
		Unaffected:           []string{"redirect"},
		UserImpact:           bounds(map[string]string{"redirect": "0%"}),
		MaxAffectedServices:  intp(3),
		Breakers:             []BreakerExpect{{Edge: "redirect->link", OpensWithin: time.Second, ClosesWithin: time.Second}},
		MaxRetriesPerRequest: map[string]float64{"redirect->link": 1},
	}
	empty := BlastRadius(nil, twoPhases, fixtureStart, []string{"link"}, reports.BlastThresholds{}, nil)
	for name, br := range map[string]*reports.BlastRadius{"nil": nil, "no spans": empty} {
		var m *reports.Mechanisms
		if br != nil {
			m = Mechanisms(nil, twoPhases, fixtureStart, nil, nil)
		}
		lines := Judge(exp, br, m)
		if len(lines) != 6 {
			t.Errorf("%s: %d lines, want 6: %+v", name, len(lines), lines)
		}
		for _, l := range lines {
			if l.Pass {
				t.Errorf("%s: %+v passed without data", name, l)
			}
			if l.Observed == "" {
				t.Errorf("%s: %+v has no explanation", name, l)
			}
			// faultline mutate credits no kill to a no-data line, so each must say it is one.
			if !l.NoData {
				t.Errorf("%s: %+v failed for want of data but is not marked no_data", name, l)
			}
		}
	}
}

// TestJudgeUnproven: a service outside the allowed ones that had too few fault-phase calls
// leaves containment and the affected count unproven (a no-data fail) unless allow_unproven
// names it; unaffected must be proven whatever allow_unproven says; a service measured
// affected outside the list is a plain fail, unproven ones or not.
func TestJudgeUnproven(t *testing.T) {
	build := func(gatewayFails bool) *reports.BlastRadius {
		g := newGen()
		hop{caller: "gateway", callee: "b", n: 40, base: shape{callerMs: 5, calleeMs: 1},
			fault: shape{callerMs: 5, calleeMs: 1, callerErr: gatewayFails}}.build(g)
		// c served 40 calls in the baseline and went quiet in the fault: unproven, as is d,
		// which only c calls
		hop{caller: "c", callee: "d", n: 40, nFault: 3, base: shape{callerMs: 5, calleeMs: 1}, fault: shape{callerMs: 5, calleeMs: 1}}.build(g)
		return BlastRadius(g.spans, twoPhases, fixtureStart, []string{"b"}, reports.BlastThresholds{}, nil)
	}
	quiet, widened := build(false), build(true)
	if want := []string{"c", "d"}; !slices.Equal(quiet.UnprovenServices, want) {
		t.Fatalf("unproven = %v, want %v", quiet.UnprovenServices, want)
	}
	for _, c := range []struct {
		name         string
		br           *reports.BlastRadius
		exp          Expect
		pass, noData bool
		obs          string
	}{
		{"contained, unproven outside", quiet, Expect{ContainedTo: []string{}}, false, true, "unproven (too few fault-phase calls to judge): [c, d]"},
		{"contained, unproven allowed", quiet, Expect{ContainedTo: []string{}, AllowUnproven: []string{"c", "d"}}, true, false, "unproven, allowed: [c, d]"},
		{"contained, one unproven allowed", quiet, Expect{ContainedTo: []string{}, AllowUnproven: []string{"d"}}, false, true, "[c]"},
		{"contained, unproven may be affected", quiet, Expect{ContainedTo: []string{"c", "d"}}, true, false, "affected: []"},
		{"contained, affected outside", widened, Expect{ContainedTo: []string{}}, false, false, "outside the list: [gateway]"},
		{"unaffected must be proven", quiet, Expect{Unaffected: []string{"c"}, AllowUnproven: []string{"c"}}, false, true, "cannot prove it unaffected"},
		{"max affected, unproven", quiet, Expect{MaxAffectedServices: intp(0)}, false, true, "unproven"},
		{"max affected, unproven allowed", quiet, Expect{MaxAffectedServices: intp(0), AllowUnproven: []string{"c", "d"}}, true, false, "0 []"},
		{"max affected exceeded", widened, Expect{MaxAffectedServices: intp(0)}, false, false, "1 [gateway]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := Judge(c.exp, c.br, nil)
			if len(l) != 1 {
				t.Fatalf("%d lines, want 1: %+v", len(l), l)
			}
			if l[0].Pass != c.pass || l[0].NoData != c.noData || !strings.Contains(l[0].Observed, c.obs) {
				t.Errorf("got %+v, want pass %v, no data %v, observed mentioning %q", l[0], c.pass, c.noData, c.obs)
			}
		})
	}
}
