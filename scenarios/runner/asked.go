package runner

import (
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios/load"
)

// withAsked gives each stream's figures its schedule, so they carry the asked rate per phase
// and the generator's achieved rate is judged against it. A stream the load never started
// (the run failed before) keeps none.
func withAsked(specs []reports.StreamSpec, streams []load.Stream) []reports.StreamSpec {
	for i := range specs {
		for _, st := range streams {
			if st.Name == specs[i].Name {
				specs[i].Asked = st.Asked
			}
		}
	}
	return specs
}
