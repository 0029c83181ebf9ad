package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/faultline/faultline/scenarios/mutants"
)

// CodeMutants are the names a scenario may list under code_controls: the patches in
// scenarios/mutants.
func CodeMutants() []string { return mutants.Names() }

// codeControls reads the code mutants a scenario must catch; each must be a built-in code
// mutant, named once.
func (d *decoder) codeControls(path string, v ast.Node) []string {
	items, _ := d.sequence(path, "a list of code mutant names", v)
	known := CodeMutants()
	seen := map[string]bool{}
	list := []string{}
	for i, at := range items {
		var m string
		if !d.str(fmt.Sprintf("%s[%d]", path, i), at, &m) {
			continue
		}
		list = append(list, m)
		switch {
		case !slices.Contains(known, m):
			d.errorf(at, "%s[%d]: unknown code mutant %q, expected one of: %s", path, i, m, strings.Join(known, ", "))
		case seen[m]:
			d.errorf(at, "%s[%d]: code mutant %q listed twice", path, i, m)
		}
		seen[m] = true
	}
	return list
}
