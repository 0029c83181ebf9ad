package html

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

// TestNoDataExpectation: an expectation that failed for want of data is badged "no data",
// like a no-data SLO, not as a measured fail.
func TestNoDataExpectation(t *testing.T) {
	run := loadFixture(t)
	res := *run.Results
	res.Expectations = append([]reports.Expectation{{What: "unaffected: billing", Expected: "not affected",
		Observed: "unproven: cannot prove it unaffected", NoData: true}}, res.Expectations...)
	page := render(t, &res, run.Samples, run.Scenario)
	i := strings.Index(page, "unproven: cannot prove it unaffected")
	if i < 0 {
		t.Fatal("expectation missing")
	}
	if row := page[i:]; !strings.Contains(row[:strings.Index(row, "</tr>")], ">no data</span>") {
		t.Errorf("no-data expectation not badged no data: %.300s", row)
	}
}
