package console

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/scenarios/runner"
)

// TestInterventions: during a run, a fault injected by hand and a scheduled fault healed by
// hand are interventions; the schedule's own injects and heals, and a halt's heals (the halt
// says itself), are not.
func TestInterventions(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	w := &runner.Watch{Start: start}
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	events := []ledger.Event{
		{At: at(3), Kind: ledger.KindInject, Who: "scenario", Source: ledger.SourceScenario, Fault: "latency", Target: "gateway->redirect"},
		{At: at(5), Kind: ledger.KindInject, Who: "ana", Source: ledger.SourceConsole, Fault: "pause", Target: "billing"},
		{At: at(6), Kind: ledger.KindHeal, Who: "bo", Source: ledger.SourceScenario, Fault: "latency", Target: "gateway->redirect"},
		{At: at(7), Kind: ledger.KindHeal, Who: "scenario", Source: ledger.SourceScenario, Fault: "latency", Target: "link->billing", Text: "scheduled"},
		{At: at(8), Kind: ledger.KindHeal, Who: "cy", Source: ledger.SourceScenario, Fault: "latency", Target: "link->redis", Text: "halt"},
		{At: at(9), Kind: ledger.KindNote, Who: "ana", Text: "p99 up"},
	}
	got := interventions(events, w)
	want := []string{"fault pause on billing injected by ana at 5.0s", "scheduled fault latency on gateway->redirect healed by bo at 6.0s"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("interventions %q, want %q", got, want)
	}
}
