package scenarios

import (
	"github.com/goccy/go-yaml/ast"

	"github.com/faultline/faultline/scenarios/mutants"
)

// CodeMutants are the names a scenario may list under code_controls: the patches in
// scenarios/mutants.
func CodeMutants() []string { return mutants.Names() }

// codeControls reads the code mutants a scenario must catch; each must be a built-in code
// mutant, named once.
func (d *decoder) codeControls(path string, v ast.Node) []string {
	return d.names(path, v, "code mutant", CodeMutants())
}
