package mutants

import (
	"strings"
	"testing"
)

// FuzzParse: any file content gives a mutant or an error, never a panic, and a parsed mutant
// has every header and a patch.
func FuzzParse(f *testing.F) {
	for _, m := range All() {
		f.Add(string(m.Patch))
	}
	f.Add("Mutant: m\n\tx\n")
	f.Add("Caught-by: a: b;;\ndiff --git a/x b/x\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := Parse("m.patch", []byte(text))
		if err != nil {
			return
		}
		if m.Name != "m" || m.Policy == "" || m.Bug == "" || len(m.Scenarios) == 0 || !strings.Contains(text, "diff --git ") {
			t.Errorf("accepted an incomplete mutant: %+v", m)
		}
	})
}
