package runner

import (
	"context"
	"sync"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/scenarios"
)

// Watch is a live view's handle on one run (faultline run --console): what the run tells it as
// it happens, and the HALT it may press. The view sets the On* hooks before its Options.Watch
// function returns; the run calls them from its own goroutines.
type Watch struct {
	Scenario *scenarios.Scenario
	Start    time.Time // the load's start: offsets are from here
	Spans    func() []traces.Span

	// OnSample is called with every answered request of the load.
	OnSample func(reports.Sample)
	// OnFault is called when a scheduled fault was applied or healed.
	OnFault func(FaultChange)
	// Interventions is asked once the load ended: what was done to the system from outside
	// the scenario during it (a fault injected, or a scheduled one healed, by hand). Any makes
	// the run invalid: it did not measure the scenario.
	Interventions func() []string

	mu       sync.Mutex
	halt     chan struct{}
	haltedBy string
	haltedAt time.Time
	loadDone bool
}

// FaultChange is one scheduled fault applied or healed.
type FaultChange struct {
	Index   int // in the scenario's fault list
	Fault   string
	Target  string
	Params  map[string]string
	Applied bool // false: healed
	Err     string
	// Heal heals this fault now (on an apply only; once, whoever asks first, the schedule or
	// the view).
	Heal func(ctx context.Context) error
}

func newWatch(sc *scenarios.Scenario, start time.Time, spans func() []traces.Span) *Watch {
	return &Watch{Scenario: sc, Start: start, Spans: spans, halt: make(chan struct{}),
		OnSample: func(reports.Sample) {}, OnFault: func(FaultChange) {}}
}

// Halt stops the run's load and heals its faults at once; the run's verdict is then halted.
// It may be called any number of times, from any goroutine; after the load ended it does
// nothing to the verdict.
func (w *Watch) Halt(who string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.haltedBy != "" || w.loadDone {
		return
	}
	if who == "" {
		who = "someone"
	}
	w.haltedBy, w.haltedAt = who, time.Now()
	close(w.halt)
}

// halted returns who halted the run and when, if someone did.
func (w *Watch) halted() (string, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.haltedBy, w.haltedAt
}

// endLoad closes the window in which a halt counts and returns the interventions.
func (w *Watch) endLoad() []string {
	w.mu.Lock()
	w.loadDone = true
	w.mu.Unlock()
	if w.Interventions == nil {
		return nil
	}
	return w.Interventions()
}
