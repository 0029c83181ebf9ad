package reports

import (
	"bytes"
	"strings"
	"testing"
)

// TestMarkdownNoDataExpectation: an expectation that failed for want of data says so, like a
// no-data SLO.
func TestMarkdownNoDataExpectation(t *testing.T) {
	r := sampleResults()
	r.Expectations = append(r.Expectations, Expectation{What: "unaffected: billing", Expected: "not affected",
		Observed: "unproven: 3 fault-phase calls (need 10; 40 in the baseline): cannot prove it unaffected", NoData: true})
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "cannot prove it unaffected | FAIL (no data) |") {
		t.Errorf("no-data expectation not marked:\n%s", buf.String())
	}
}
