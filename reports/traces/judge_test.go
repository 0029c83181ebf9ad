// The expectation judge lives in reports/verdict; these tests hold it against this package's
// fixtures (export_test.go).
package traces_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/reports/verdict"
)

// bounds parses user-impact bounds as scenario validation does.
func bounds(m map[string]string) map[string]verdict.Bound {
	out := map[string]verdict.Bound{}
	for k, v := range m {
		b, err := verdict.ParseBound(v)
		if err != nil {
			panic(err)
		}
		out[k] = b
	}
	return out
}

func intp(v int) *int { return &v }

func TestJudgeFixture(t *testing.T) {
	spans := traces.LoadFixture(t)
	br := traces.BlastRadius(spans, traces.FixturePhases, traces.FixtureStart, []string{"link->link-db"}, reports.BlastThresholds{},
		map[string]float64{"redirect": 0, "create": 0.3})
	m := traces.Mechanisms(spans, traces.FixturePhases, traces.FixtureStart, traces.FixtureFaults, nil)
	for _, c := range []struct {
		name  string
		blast *verdict.ExpectBlast
		mech  *verdict.ExpectMechanisms
		pass  []bool
		obs   string // part of the first line's observation
	}{
		{"contained", &verdict.ExpectBlast{ContainedTo: []string{"link", "gateway"}}, nil, []bool{true}, "affected: [gateway, link, link-db]"},
		{"not contained", &verdict.ExpectBlast{ContainedTo: []string{"link"}}, nil, []bool{false}, "outside the list: [gateway]"},
		{"unaffected", &verdict.ExpectBlast{Unaffected: []string{"redirect", "analytics", "gateway->redirect"}}, nil, []bool{true, true, true}, "not affected"},
		{"unaffected but affected", &verdict.ExpectBlast{Unaffected: []string{"gateway"}}, nil, []bool{false}, "affected: p99"},
		{"unaffected without spans", &verdict.ExpectBlast{Unaffected: []string{"billing-db"}}, nil, []bool{false}, "no spans for billing-db"},
		{"unaffected without enough calls", &verdict.ExpectBlast{Unaffected: []string{"redirect->link"}}, nil, []bool{false}, "unproven: 6 fault-phase calls"},
		{"user impact", &verdict.ExpectBlast{UserImpact: bounds(map[string]string{"redirect": "0%", "create": "<=5%"})}, nil, []bool{false, true}, "30.00%"},
		{"user impact unmeasured", &verdict.ExpectBlast{UserImpact: bounds(map[string]string{"stats": "0%"})}, nil, []bool{false}, "no requests of stream stats"},
		{"max affected", &verdict.ExpectBlast{MaxAffectedServices: intp(2)}, nil, []bool{true}, "2 [gateway, link]"},
		{"max affected exceeded", &verdict.ExpectBlast{MaxAffectedServices: intp(1)}, nil, []bool{false}, ""},
		{"breaker in time", nil, &verdict.ExpectMechanisms{Breakers: []verdict.ExpectBreaker{{Edge: "redirect->link", OpensWithin: 2 * time.Second, ClosesWithin: 10 * time.Second}}}, []bool{true, true}, "opened after 1.129s"},
		{"breaker too slow", nil, &verdict.ExpectMechanisms{Breakers: []verdict.ExpectBreaker{{Edge: "redirect->link", OpensWithin: time.Second, ClosesWithin: 5 * time.Second}}}, []bool{false, false}, ""},
		{"breaker never opened", nil, &verdict.ExpectMechanisms{Breakers: []verdict.ExpectBreaker{{Edge: "gateway->link"}}}, []bool{false}, "never opened"},
		{"breaker unknown", nil, &verdict.ExpectMechanisms{Breakers: []verdict.ExpectBreaker{{Edge: "link->billing-db", OpensWithin: time.Second}}}, []bool{false}, "no breaker state observed"},
		{"retries", nil, &verdict.ExpectMechanisms{MaxRetriesPerRequest: map[string]float64{"redirect->link": 2}}, []bool{true}, "2 at most in one call (mean 0.1)"},
		// One call retried twice: the mean of 0.1 would pass a bound of 1, the call does not.
		{"retries beyond the bound in one call", nil, &verdict.ExpectMechanisms{MaxRetriesPerRequest: map[string]float64{"redirect->link": 1}}, []bool{false}, "2 at most"},
		{"retries unknown", nil, &verdict.ExpectMechanisms{MaxRetriesPerRequest: map[string]float64{"redirect->redis": 1}}, []bool{false}, "no retry data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lines := verdict.JudgeTraces(c.blast, c.mech, br, m)
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
	blast := &verdict.ExpectBlast{
		ContainedTo:         []string{"link"},
		Unaffected:          []string{"redirect"},
		UserImpact:          bounds(map[string]string{"redirect": "0%"}),
		MaxAffectedServices: intp(3),
	}
	mech := &verdict.ExpectMechanisms{
		Breakers:             []verdict.ExpectBreaker{{Edge: "redirect->link", OpensWithin: time.Second, ClosesWithin: time.Second}},
		MaxRetriesPerRequest: map[string]float64{"redirect->link": 1},
	}
	empty := traces.BlastRadius(nil, traces.TwoPhases, traces.FixtureStart, []string{"link"}, reports.BlastThresholds{}, nil)
	for name, br := range map[string]*reports.BlastRadius{"nil": nil, "no spans": empty} {
		var m *reports.Mechanisms
		if br != nil {
			m = traces.Mechanisms(nil, traces.TwoPhases, traces.FixtureStart, nil, nil)
		}
		lines := verdict.JudgeTraces(blast, mech, br, m)
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
	quiet, widened := traces.UnprovenRadius(false), traces.UnprovenRadius(true)
	if want := []string{"c", "d"}; !slices.Equal(quiet.UnprovenServices, want) {
		t.Fatalf("unproven = %v, want %v", quiet.UnprovenServices, want)
	}
	for _, c := range []struct {
		name         string
		br           *reports.BlastRadius
		exp          *verdict.ExpectBlast
		pass, noData bool
		obs          string
	}{
		{"contained, unproven outside", quiet, &verdict.ExpectBlast{ContainedTo: []string{}}, false, true, "unproven (too few fault-phase calls to judge): [c, d]"},
		{"contained, unproven allowed", quiet, &verdict.ExpectBlast{ContainedTo: []string{}, AllowUnproven: []string{"c", "d"}}, true, false, "unproven, allowed: [c, d]"},
		{"contained, one unproven allowed", quiet, &verdict.ExpectBlast{ContainedTo: []string{}, AllowUnproven: []string{"d"}}, false, true, "[c]"},
		{"contained, unproven may be affected", quiet, &verdict.ExpectBlast{ContainedTo: []string{"c", "d"}}, true, false, "affected: []"},
		{"contained, affected outside", widened, &verdict.ExpectBlast{ContainedTo: []string{}}, false, false, "outside the list: [gateway]"},
		{"unaffected must be proven", quiet, &verdict.ExpectBlast{Unaffected: []string{"c"}, AllowUnproven: []string{"c"}}, false, true, "cannot prove it unaffected"},
		{"max affected, unproven", quiet, &verdict.ExpectBlast{MaxAffectedServices: intp(0)}, false, true, "unproven"},
		{"max affected, unproven allowed", quiet, &verdict.ExpectBlast{MaxAffectedServices: intp(0), AllowUnproven: []string{"c", "d"}}, true, false, "0 []"},
		{"max affected exceeded", widened, &verdict.ExpectBlast{MaxAffectedServices: intp(0)}, false, false, "1 [gateway]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := verdict.JudgeTraces(c.exp, nil, c.br, nil)
			if len(l) != 1 {
				t.Fatalf("%d lines, want 1: %+v", len(l), l)
			}
			if l[0].Pass != c.pass || l[0].NoData != c.noData || !strings.Contains(l[0].Observed, c.obs) {
				t.Errorf("got %+v, want pass %v, no data %v, observed mentioning %q", l[0], c.pass, c.noData, c.obs)
			}
		})
	}
}

// TestJudgeShortBaseline: a service that served 5 calls in the baseline and fails every call
// of the fault phase fails containment, unaffected and the affected count: as a measured fail
// when it had enough fault-phase calls to be affected, as no data when it is unproven.
func TestJudgeShortBaseline(t *testing.T) {
	for _, c := range []struct {
		name     string
		nFault   int
		affected bool
	}{{"enough fault calls", 40, true}, {"too few fault calls", 5, false}} {
		t.Run(c.name, func(t *testing.T) {
			br := traces.QuietCallerRadius(c.nFault)
			for _, exp := range []*verdict.ExpectBlast{{ContainedTo: []string{"gateway"}}, {Unaffected: []string{"c"}}, {MaxAffectedServices: intp(0)}} {
				l := verdict.JudgeTraces(exp, nil, br, nil)
				if len(l) != 1 || l[0].Pass || l[0].NoData == c.affected {
					t.Errorf("%+v: %+v, want a fail (no data: %v)", exp, l, !c.affected)
				}
			}
		})
	}
}

// TestJudgeMaxRetriesPerCall: one call with 3 retries among many with none must fail a bound
// of 1 even though the mean is far below 1; the same run without that call passes.
func TestJudgeMaxRetriesPerCall(t *testing.T) {
	const edge = "link->billing"
	mech := &verdict.ExpectMechanisms{MaxRetriesPerRequest: map[string]float64{edge: 1}}
	for _, c := range []struct {
		name     string
		retries  map[int]int
		withAttr bool
		most     int
		pass     bool
	}{
		{"one storming call, attribute", map[int]int{7: 3}, true, 3, false},
		{"one storming call, attempts only", map[int]int{7: 3}, false, 3, false},
		{"retries within the bound", map[int]int{3: 1, 9: 1}, true, 1, true},
		{"no retries", nil, true, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			lines := verdict.JudgeTraces(nil, mech, nil, traces.StormMechanisms(edge, c.retries, c.withAttr))
			if len(lines) != 1 || lines[0].Pass != c.pass {
				t.Fatalf("judged %+v, want one line passing %v", lines, c.pass)
			}
			if want := fmt.Sprintf("%d at most in one call", c.most); !strings.Contains(lines[0].Observed, want) {
				t.Errorf("observed %q, want it to say %q", lines[0].Observed, want)
			}
		})
	}
}

// TestJudgeRealRun: on the spans recorded from the system itself, what the fault cannot reach
// is proven unaffected and the breakers it must open are seen opening (and closing) in time.
func TestJudgeRealRun(t *testing.T) {
	br, m := traces.RealRun(t)
	lines := verdict.JudgeTraces(&verdict.ExpectBlast{Unaffected: []string{"analytics", "billing", "redirect"}},
		&verdict.ExpectMechanisms{Breakers: []verdict.ExpectBreaker{{Edge: "gateway->link", OpensWithin: 3 * time.Second, ClosesWithin: 5 * time.Second},
			{Edge: "link->link-db", OpensWithin: 3 * time.Second}}}, br, m)
	if len(lines) != 6 {
		t.Errorf("%d lines, want 6: %+v", len(lines), lines)
	}
	for _, l := range lines {
		if !l.Pass {
			t.Errorf("%s: expected %s, observed %s", l.What, l.Expected, l.Observed)
		}
	}
}
