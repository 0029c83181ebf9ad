package reports

import (
	"bytes"
	"strings"
	"testing"
)

func conformanceSample() *Conformance {
	return &Conformance{Profile: "default", Tolerances: []string{"upper time bounds: + max(20ms, 10% of the bound)"}, Failed: 1, Passed: 1, NoData: 1, Skipped: 1,
		Checks: []ConformanceCheck{
			{Target: "redirect->redis", Policy: "timeout", Configured: "50ms per attempt (+20ms tolerance)", Observed: "longest attempt 143.0ms of 2677",
				Status: ConformanceFail, Violations: 1, Examples: []string{"attempt took 143.0ms (trace 6146 at 13.135s)"}},
			{Target: "link->billing", Policy: "retry.backoff", Configured: "backoff 10ms", Observed: "6 waits, 6.4ms–13.3ms", Status: ConformancePass},
			{Target: "route:create", Policy: "rate_limit", Configured: "at most 500/s", Observed: "peak 20", Status: ConformanceNoData, Reason: "not exercised: peak 20/s below the limit"},
			{Target: "link->link-db", Policy: "timeout", Configured: "500ms", Observed: "-", Status: ConformanceSkipped, Reason: "commit not cut"},
		}}
}

func TestConformanceInMarkdown(t *testing.T) {
	r := sampleResults()
	r.Conformance = conformanceSample()
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, w := range []string{"## Policy conformance", "profile `default` against the spans: 1 failed, 1 passed, 1 not exercised",
		"- tolerance: upper time bounds", "| edge redirect->redis | timeout | 50ms per attempt (+20ms tolerance) | longest attempt 143.0ms of 2677; e.g. attempt took 143.0ms",
		"| FAIL |", "no data: not exercised: peak 20/s below the limit", "| route create | rate_limit |", "skipped: commit not cut"} {
		if !strings.Contains(md, w) {
			t.Errorf("summary.md lacks %q", w)
		}
	}
	var none bytes.Buffer
	if err := WriteMarkdown(&none, sampleResults()); err != nil || strings.Contains(none.String(), "conformance") {
		t.Errorf("a run without conformance wrote a conformance section (%v)", err)
	}
}

func TestConformanceInJUnit(t *testing.T) {
	r := sampleResults()
	r.Conformance = conformanceSample()
	s := decodeJUnit(t, r)
	seen := map[string]bool{}
	for _, c := range s.Cases {
		name := *c.Name
		seen[name] = true
		switch name {
		case "edge redirect->redis timeout":
			if c.Failure == nil || !strings.Contains(c.Failure.Message, "configured 50ms per attempt") {
				t.Errorf("failed check: want a failure naming the configured value, got %+v", c.Failure)
			}
		case "edge link->billing retry.backoff":
			if c.Failure != nil || c.Skipped != nil {
				t.Errorf("passed check written as failed or skipped")
			}
		case "route create rate_limit", "edge link->link-db timeout":
			if c.Skipped == nil {
				t.Errorf("%s: want skipped (no data or switched off)", name)
			}
		}
	}
	for _, n := range []string{"edge redirect->redis timeout", "edge link->billing retry.backoff", "route create rate_limit", "edge link->link-db timeout"} {
		if !seen[n] {
			t.Errorf("no testcase %q", n)
		}
	}
}
