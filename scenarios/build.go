package scenarios

import "github.com/faultline/faultline/toxics"

// Build makes the fault ready to apply, from the parameters as they were written.
func (f Fault) Build() (toxics.Fault, error) {
	return toxics.New(f.Fault, f.paramVals)
}
