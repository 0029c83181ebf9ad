package scenarios

import (
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
)

// TestParsedForTheVerdict ties the format to the judge: the parser fills the verdict package's
// own types, which the judges take as they are, with no conversion in between.
func TestParsedForTheVerdict(t *testing.T) {
	sc, err := ParseFile("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := sc.Expect
	if b := e.Mechanisms.Breakers[0]; b.Edge != "redirect->link" || b.OpensWithin != 3*time.Second || b.ClosesWithin != 10*time.Second {
		t.Errorf("breaker %+v", b)
	}
	if !e.NeedsTraces() {
		t.Error("a blast radius and mechanisms to judge, but no traces needed")
	}
	// Nothing observed: contained, unaffected billing, 2 user impacts, max affected, the
	// breaker (never seen opening), retries: 7 lines, each a no-data fail.
	lines := verdict.JudgeTraces(e.BlastRadius, e.Mechanisms, nil, nil)
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7: %+v", len(lines), lines)
	}
	for _, l := range lines {
		if l.Pass || !l.NoData {
			t.Errorf("%+v: want a no-data fail", l)
		}
	}
	data := verdict.JudgeData(&reports.DataSafety{LinksAcked: 3, ClicksAcked: 5, ClicksCounted: 5, DuplicateLinkEvents: 2}, e.Data)
	for _, l := range data {
		if !l.Pass {
			t.Errorf("%+v: within the scenario's data bounds, want a pass", l)
		}
	}
	want := 0
	for _, slo := range sc.SLOs {
		want += len(slo.Phases) * len(slo.Raw())
	}
	res := verdict.EvaluateSLOs(nil, sc.SLOs, sc.Phases())
	if len(res) != want || want == 0 {
		t.Fatalf("%d SLO lines, want %d", len(res), want)
	}
	for _, r := range res {
		if r.Pass || !r.NoData {
			t.Errorf("%+v: no sample, want a no-data fail", r)
		}
	}
}
