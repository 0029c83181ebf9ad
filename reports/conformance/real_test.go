package conformance

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/system/policy"
)

// TestRealRunConforms judges the spans recorded from the system itself (reports/traces'
// real fixture: 300 ms on link->link-db, default profile) and expects no false failure from
// the noise of a busy 2-core machine, and the policies the fault brings into play judged.
func TestRealRunConforms(t *testing.T) {
	const fixture = "../traces/testdata/real-link-db-latency"
	var meta struct {
		Start time.Time `json:"start"`
	}
	b, err := os.ReadFile(fixture + ".run.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(fixture + ".spans.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spans, err := traces.ReadSpans(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load("default")
	if err != nil {
		t.Fatal(err)
	}
	c := Check(p, Input{Spans: spans, Start: meta.Start})
	passed := map[string]bool{}
	for _, ch := range c.Checks {
		t.Logf("%-24s %-26s %-8s %s | %s", ch.Target, ch.Policy, ch.Status, ch.Observed, ch.Reason)
		if ch.Status == reports.ConformanceFail {
			t.Errorf("%s: %v", ch.FailReason(), ch.Examples)
		}
		if ch.Status == reports.ConformancePass {
			passed[ch.Target+" "+ch.Policy] = true
		}
	}
	for _, want := range []string{"link->link-db timeout", "link->link-db circuit_breaker.opens", "gateway->link circuit_breaker.opens", "gateway->link circuit_breaker.refuses"} {
		if !passed[want] {
			t.Errorf("%s not judged passed", want)
		}
	}
}
