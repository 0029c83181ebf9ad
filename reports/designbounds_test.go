package reports

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestDesignBoundsInSummaryAndJSON: summary.md lists each stream's bound and every warning;
// results.json keeps an unbounded stream's worst_ms as null, not 0 (0 would read as "instant").
func TestDesignBoundsInSummaryAndJSON(t *testing.T) {
	r := sampleResults()
	r.DesignBounds = &DesignBounds{Profile: "default", Streams: []StreamBound{
		{Stream: "redirect", Route: "redirect", WorstMs: ptr(1010), LimitMs: 1010, LimitBy: "the design's worst case 1.01s on route redirect", ToleranceMs: 101},
		{Stream: "health", LimitMs: 5000, LimitBy: "the load generator's timeout 5s (no design bound: the request reaches no guarded gateway route)", ToleranceMs: 500},
	}, Warnings: []string{`slos[0].thresholds[0]: "p(99)<2s" on stream redirect (all) is looser than the design's worst case 1.01s on route redirect (+101ms tolerance): slowness alone cannot fail it`}}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Design bounds\n\nWorst latency profile `default` allows per stream",
		"- redirect: at most 1010.0 ms (+101.0 ms tolerance): the design's worst case 1.01s on route redirect\n",
		"- health: at most 5000.0 ms (+500.0 ms tolerance): the load generator's timeout 5s",
		"- **warning**: slos[0].thresholds[0]: \"p(99)<2s\" on stream redirect",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md.String())
		}
	}
	b, err := json.Marshal(r.DesignBounds)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"stream":"health","worst_ms":null,"limit_ms":5000`, `"worst_ms":1010`, `"warnings":["slos[0]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("design_bounds JSON lacks %s:\n%s", want, b)
		}
	}
	r.DesignBounds = &DesignBounds{Profile: "nope", Error: "profile: \"nope\" is neither a built-in nor a file path"}
	md.Reset()
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "- not derived: profile: \"nope\"") {
		t.Errorf("summary.md hides the error:\n%s", md.String())
	}
}
