package scenarios

import (
	"slices"
	"strings"
	"testing"
)

// TestBlastRadiusStatements: contained_to: [] is a statement (only the origin may be affected),
// not an absent key, and it survives the resolved dump; allow_unproven and the absolute
// thresholds are read.
func TestBlastRadiusStatements(t *testing.T) {
	src := `name: x
duration: 30s
load: [{name: redirect, request: "GET /r/{code}", rate: 10/s}]
faults: [{at: 5s, for: 5s, crash: link}]
expect:
  blast_radius: {contained_to: [], allow_unproven: [billing, link-db]}
blast: {abs_error_rate: 10%, abs_latency_ms: 300}
`
	sc, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := sc.Expect.BlastRadius
	if b == nil || b.ContainedTo == nil || len(b.ContainedTo) != 0 {
		t.Fatalf("contained_to = %#v, want an empty, non-nil list", b)
	}
	if !slices.Equal(b.AllowUnproven, []string{"billing", "link-db"}) {
		t.Errorf("allow_unproven = %v", b.AllowUnproven)
	}
	if sc.Blast.AbsErrorRate != 0.1 || sc.Blast.AbsLatencyMs != 300 {
		t.Errorf("blast = %+v, want abs_error_rate 0.1, abs_latency_ms 300", sc.Blast)
	}
	y, err := sc.ResolvedYAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(y), "contained_to: []") {
		t.Errorf("resolved YAML lost contained_to: []:\n%s", y)
	}
	again, err := Parse("x.yaml", y)
	if err != nil {
		t.Fatal(err)
	}
	if again.Expect.BlastRadius.ContainedTo == nil {
		t.Errorf("contained_to: [] lost in the round trip")
	}
}
