package console

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/scenarios/gameday"
	"github.com/faultline/faultline/scenarios/runner"
)

// ForRun starts a console on a scenario run's lab (faultline run --console): the run's load
// streams and scheduled faults show live; inject, heal and notes work as on a game day; HALT
// (from the page or faultline halt) stops the run's load and heals its faults, and the run is
// then halted. A fault injected by hand, or a scheduled one healed by hand, during the load
// makes the run invalid: it no longer measured the scenario.
func ForRun(l *lab.Lab, w *runner.Watch, addr string) (*Server, error) {
	var meta []gameday.StreamView
	for _, st := range w.Scenario.Load {
		meta = append(meta, gameday.StreamView{Name: st.Name, Request: st.Request, Rate: st.Rate, Running: true})
	}
	var slos []gameday.SLOSpec
	for _, s := range w.Scenario.SLOs {
		slos = append(slos, gameday.SLOSpec{Load: s.Load, Phases: s.Phases, Thresholds: s.Raw()})
	}
	streams := gameday.NewStreams(w.Start, meta, slos)
	led := l.Ledger()
	runStart := len(led.Events(0)) // the events of the run are the ones after this
	var mu sync.Mutex
	adopted := map[int]int{}           // scenario fault index → ledger id
	var started atomic.Pointer[Server] // refreshed at once on a fault change, not at the next tick
	w.OnSample = streams.Add
	w.OnFault = func(c runner.FaultChange) {
		mu.Lock()
		defer mu.Unlock()
		if srv := started.Load(); srv != nil {
			defer srv.live.poke()
		}
		if c.Applied {
			adopted[c.Index] = led.Adopt(c.Fault, c.Target, c.Params, c.Heal).ID
			return
		}
		if id, ok := adopted[c.Index]; ok {
			delete(adopted, c.Index)
			led.Drop(id, c.Err)
		} else if c.Err != "" {
			led.Log(ledger.Event{Kind: ledger.KindError, Who: "scenario", Source: ledger.SourceScenario, Fault: c.Fault, Target: c.Target, Text: c.Err})
		}
	}
	w.Interventions = func() []string {
		streams.Stop()
		return interventions(led.Events(runStart), w)
	}
	led.OnHalt(func(context.Context) { w.Halt(led.Snapshot().HaltedBy) })
	o := labOptions(l, addr)
	o.Spans, o.Streams, o.Start = w.Spans, streams.View, w.Start
	srv, err := Start(o)
	if err != nil {
		return nil, err
	}
	started.Store(srv)
	return srv, nil
}

// interventions lists what was done by hand to the system during a run's load: a fault
// injected, or a scheduled fault healed (a halt says so itself and is left out).
func interventions(events []ledger.Event, w *runner.Watch) []string {
	var out []string
	for _, e := range events {
		at := e.At.Sub(w.Start).Seconds()
		switch {
		case e.Kind == ledger.KindInject && e.Source != ledger.SourceScenario:
			out = append(out, fmt.Sprintf("fault %s on %s injected by %s at %.1fs", e.Fault, e.Target, orSomeone(e.Who), at))
		case e.Kind == ledger.KindHeal && e.Source == ledger.SourceScenario && e.Who != "scenario" && e.Text != "halt":
			out = append(out, fmt.Sprintf("scheduled fault %s on %s healed by %s at %.1fs", e.Fault, e.Target, orSomeone(e.Who), at))
		}
	}
	return out
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}
