package scenarios

import (
	"slices"
	"testing"

	"github.com/faultline/faultline/scenarios/mutants"
)

// TestCatalogueCodeMutants: every code mutant is some catalogue scenario's code control, and
// the scenarios listing it are exactly those its Caught-by header names, so the patch's own
// account of who catches it cannot drift from what faultline mutate --code runs.
func TestCatalogueCodeMutants(t *testing.T) {
	all, err := LoadDir(".")
	if err != nil {
		t.Fatalf("catalogue has invalid scenarios:\n%v", err)
	}
	listedBy := map[string][]string{}
	for _, sc := range all {
		for _, m := range sc.CodeControls {
			listedBy[m] = append(listedBy[m], sc.Name)
		}
	}
	for _, m := range mutants.All() {
		got, want := slices.Sorted(slices.Values(listedBy[m.Name])), slices.Sorted(slices.Values(m.Scenarios))
		if len(got) == 0 {
			t.Errorf("code mutant %s is no scenario's code control", m.Name)
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("code mutant %s: listed under code_controls by %v, but its Caught-by header names %v", m.Name, got, want)
		}
	}
}
