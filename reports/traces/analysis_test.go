package traces

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// TestAnalysisMatchesFunctions: indexing once gives what the one-shot functions give.
func TestAnalysisMatchesFunctions(t *testing.T) {
	spans := loadFixture(t)
	a := Analyze(spans, fixturePhases, fixtureStart)
	same := func(what string, x, y any) {
		bx, _ := json.Marshal(x)
		by, _ := json.Marshal(y)
		if string(bx) != string(by) {
			t.Errorf("%s differs:\n%s\n%s", what, bx, by)
		}
	}
	same("service map", a.ServiceMap(), ServiceMap(spans, fixturePhases, fixtureStart))
	th := reports.BlastThresholds{}
	same("blast radius", a.BlastRadius([]string{"link->link-db"}, th, nil),
		BlastRadius(spans, fixturePhases, fixtureStart, []string{"link->link-db"}, th, nil))
	same("mechanisms", a.Mechanisms(fixtureFaults, nil), Mechanisms(spans, fixturePhases, fixtureStart, fixtureFaults, nil))
}

// BenchmarkAnalyze indexes the synthetic run and computes all three results.
func BenchmarkAnalyze(b *testing.B) {
	spans := generateFixture()
	start := time.Now()
	n := 0
	for b.Loop() {
		a := Analyze(spans, fixturePhases, fixtureStart)
		a.ServiceMap()
		a.BlastRadius([]string{"link->link-db"}, reports.BlastThresholds{}, nil)
		a.Mechanisms(fixtureFaults, nil)
		n++
	}
	b.ReportMetric(float64(n*len(spans))/time.Since(start).Seconds(), "spans/s")
}
