package runner

import (
	"testing"

	"github.com/faultline/faultline/reports"
)

// TestDataNotCheckedIsNoData: data safety that was never checked, or could not be read, fails
// as no data, so faultline mutate credits no kill to it.
func TestDataNotCheckedIsNoData(t *testing.T) {
	for name, ds := range map[string]*reports.DataSafety{"not checked": nil, "unreadable": {Error: "analytics: connection refused"}} {
		var found bool
		for _, e := range dataExpectations(ds, dataExpect{}) {
			if e.What == "data safety" || e.What == "data.checked" {
				found = true
				if e.Pass || !e.NoData {
					t.Errorf("%s: %+v, want a no-data fail", name, e)
				}
			}
		}
		if !found {
			t.Errorf("%s: no line says the data went unchecked", name)
		}
	}
}
