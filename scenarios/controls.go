package scenarios

import (
	"io/fs"
	"sort"
	"strings"

	"github.com/faultline/faultline/system/profiles"
)

// Mutants are the built-in profiles a scenario may list under controls: every embedded
// profile except default, which is what the mutants are measured against.
func Mutants() []string {
	files, _ := fs.Glob(profiles.FS, "*.yaml") // the pattern is constant: no error
	var out []string
	for _, f := range files {
		if name := strings.TrimSuffix(f, ".yaml"); name != "default" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
