package charts

import (
	"strings"
	"testing"
)

// TestUnprovenServiceIsNoData: a service with too few fault-phase calls to judge is drawn as
// "no data", never as unaffected.
func TestUnprovenServiceIsNoData(t *testing.T) {
	res := fixture(t)
	for i, s := range res.BlastRadius.Services {
		if s.Name == "billing" {
			res.BlastRadius.Services[i].Unproven = true
		}
	}
	svg, err := ServiceMap(res)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg, "<title>billing: no data</title>") {
		t.Errorf("unproven billing not drawn as no data")
	}
	if !strings.Contains(svg, "<title>redis: unaffected</title>") {
		t.Errorf("redis (judged) not drawn as unaffected")
	}
}
