package reports

import (
	"bytes"
	"strings"
	"testing"
)

// TestMarkdownShowsAskedRate: the summary puts each phase's achieved rate beside the rate its
// schedule asked for, and a phase sent short shows in the invalid reasons.
func TestMarkdownShowsAskedRate(t *testing.T) {
	r := &Results{Scenario: "s", Verdict: VerdictError, Valid: false,
		InvalidReasons: []string{"stream create, phase fault: achieved 288.5/s of 300.0/s asked"},
		Streams: []StreamResult{{Name: "create", Request: "POST /api/links", Rate: 50, Phases: []PhaseFigure{
			{Phase: PhaseFault, Requests: 3000, SendWindowS: 10.4, AchievedRate: 288.46, AskedRate: 300, AskedRequests: 3000},
		}}}}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| fault | 3000 | 288.5 of 300.0 |", "achieved 288.5/s of 300.0/s asked"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}
