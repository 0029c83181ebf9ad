package verdict

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

func TestSpanLossInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		t    reports.TelemetryHealth
		want string // "" = valid
	}{
		{"nothing lost", reports.TelemetryHealth{SpansReceived: 10}, ""},
		{"services dropped", reports.TelemetryHealth{SpansDroppedBySDK: 2}, "2 spans lost"},
		{"lab refused exports", reports.TelemetryHealth{ExportsRefused: 1}, "refused 1 export requests"},
		{"unknown loss", reports.TelemetryHealth{SDKLossUnknown: []reports.UnknownSpanLoss{{Service: "redirect", Processes: 1, Why: "killed"}}}, "redirect lost an unknown number"},
		{"expected unknown loss", reports.TelemetryHealth{SDKLossUnknown: []reports.UnknownSpanLoss{{Service: "redirect", Processes: 1, Expected: true}}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := SpanLossInvalid(&c.t)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}
