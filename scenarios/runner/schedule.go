package runner

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/toxics"
)

// plannedFault is one fault of the scenario, ready to apply.
type plannedFault struct {
	Name   string        // registered fault name
	Target string        // edge or component
	At     time.Duration // from the load start
	For    time.Duration // how long it stays; 0 = until the end of the run
	Fault  toxics.Fault
	Params map[string]string // for the timeline
	// Background marks a fault that is part of the environment (scenarios.Fault.Background).
	Background bool
}

// scheduleTolerance is how much later than planned a fault may be applied or healed before
// the run no longer measured the scenario's schedule and is invalid. The phases follow the
// actual times anyway; this bounds how far the experiment may drift from the one written.
const scheduleTolerance = 500 * time.Millisecond

// scheduler applies faults at their offsets and guarantees every undo runs exactly once, on
// every exit path (end of schedule, abort, error, cancellation).
type scheduler struct {
	env   toxics.Env
	start time.Time
	log   func(format string, args ...any)

	mu       sync.Mutex
	timeline []reports.FaultEvent
	timing   []timing // per fault, as timeline
	undos    map[int]toxics.Undo
	active   map[int]bool
	// notify is told of every fault applied or healed (a live console); never nil.
	notify func(FaultChange)
}

// timing is one fault's plan against when its steps began, for late.
type timing struct {
	apply, heal                 time.Duration // planned, from the start
	applyBegan, healBegan       time.Duration // -1 until the step began
	startsOnApply, startsOnUndo bool          // the step waits for a component (toxics.Starter)
}

func newScheduler(env toxics.Env, start time.Time, log func(string, ...any)) *scheduler {
	return &scheduler{env: env, start: start, log: log, undos: map[int]toxics.Undo{}, active: map[int]bool{}, notify: func(FaultChange) {}}
}

// run walks the plan until every fault is applied and healed or ctx ends; it always heals what it
// applied before returning. end is the run's duration: faults without For are healed there.
func (s *scheduler) run(ctx context.Context, plan []plannedFault, end time.Duration) {
	type step struct {
		at    time.Duration
		i     int
		apply bool
	}
	var steps []step
	s.mu.Lock()
	for i, f := range plan {
		s.timeline = append(s.timeline, reports.FaultEvent{Fault: f.Name, Target: f.Target, Params: f.Params, AppliedAt: -1, HealedAt: -1, Background: f.Background})
		stop := end
		if f.For > 0 && f.At+f.For < end {
			stop = f.At + f.For
		}
		tm := timing{apply: f.At, heal: stop, applyBegan: -1, healBegan: -1}
		if st, ok := f.Fault.(toxics.Starter); ok {
			tm.startsOnApply, tm.startsOnUndo = st.Starts()
		}
		s.timing = append(s.timing, tm)
		steps = append(steps, step{f.At, i, true}, step{stop, i, false})
	}
	s.mu.Unlock()
	// Heals before applies at the same instant, so back-to-back faults on one target don't overlap.
	sort.SliceStable(steps, func(a, b int) bool {
		if steps[a].at != steps[b].at {
			return steps[a].at < steps[b].at
		}
		return !steps[a].apply && steps[b].apply
	})
	defer s.healAll(context.WithoutCancel(ctx))
	for _, st := range steps {
		// A step that waited for its time began when it was due (the timer's own jitter is
		// no delay of the lab, and a request scheduled at that instant belongs to the fault);
		// one kept waiting behind an earlier step began when the scheduler got to it.
		began := st.at
		if wait := time.Until(s.start.Add(st.at)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else {
			began = time.Since(s.start)
		}
		if st.apply {
			s.apply(ctx, st.i, plan[st.i], began)
		} else {
			s.heal(context.WithoutCancel(ctx), st.i, began)
		}
	}
}

func (s *scheduler) apply(ctx context.Context, i int, f plannedFault, began time.Duration) {
	actx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s.mu.Lock()
	s.timing[i].applyBegan = began
	s.mu.Unlock()
	undo, err := f.Fault.Apply(actx, s.env, f.Target)
	at := time.Since(s.start).Seconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timeline[i].AppliedAt = at
	s.timeline[i].ApplyS = max(at-s.timing[i].applyBegan.Seconds(), 0)
	change := FaultChange{Index: i, Fault: f.Name, Target: f.Target, Params: f.Params, Applied: true}
	if err != nil {
		s.timeline[i].Error = err.Error()
		s.log("fault %s on %s failed to apply: %v", f.Name, f.Target, err)
		change.Applied, change.Err = false, err.Error()
		s.notify(change)
		return
	}
	s.undos[i] = undo
	s.active[i] = true
	s.log("fault %s on %s applied at %.1fs", f.Name, f.Target, at)
	change.Heal = func(ctx context.Context) error { return s.heal(ctx, i, time.Since(s.start)) }
	s.notify(change)
}

// heal undoes fault i once: a second call (the schedule after a console heal) does nothing.
func (s *scheduler) heal(ctx context.Context, i int, began time.Duration) error {
	s.mu.Lock()
	undo := s.undos[i]
	delete(s.undos, i)
	if undo != nil {
		s.timing[i].healBegan = began
	}
	s.mu.Unlock()
	if undo == nil {
		return nil
	}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := undo(hctx)
	at := time.Since(s.start).Seconds()
	s.mu.Lock()
	ev := s.timeline[i]
	s.timeline[i].HealedAt = at
	delete(s.active, i)
	if err != nil {
		s.timeline[i].Error = fmt.Sprintf("heal: %v", err)
		s.log("fault %s on %s failed to heal: %v", ev.Fault, ev.Target, err)
	} else {
		s.log("fault %s on %s healed at %.1fs", ev.Fault, ev.Target, at)
	}
	s.mu.Unlock()
	change := FaultChange{Index: i, Fault: ev.Fault, Target: ev.Target, Params: ev.Params}
	if err != nil {
		change.Err = err.Error()
	}
	s.notify(change)
	return err
}

// healAll undoes every fault still applied, concurrently so an abort heals within a second.
func (s *scheduler) healAll(ctx context.Context) {
	s.mu.Lock()
	var idx []int
	for i := range s.undos {
		idx = append(idx, i)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Add(1)
		go func() { defer wg.Done(); s.heal(ctx, i, time.Since(s.start)) }()
	}
	wg.Wait()
}

// activeFaults names the faults applied right now, for the progress line.
func (s *scheduler) activeFaults() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i := range s.active {
		name := s.timeline[i].Fault + "@" + s.timeline[i].Target
		if s.timeline[i].Background {
			name += " (background)"
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// events returns the timeline, safe to keep.
func (s *scheduler) events() []reports.FaultEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]reports.FaultEvent(nil), s.timeline...)
}

// late lists the faults applied or healed more than tol after their planned time, naming the
// fault, the planned and the actual time. A step is judged by when it completed (the fault
// took effect or was gone), except a step that starts a component and waits until it is
// ready (toxics.Starter), judged by when it began: that wait is the component's recovery,
// which the phases include in full. Steps that never ran, or ran early (an abort heals at
// once), are not late.
func (s *scheduler) late(tol time.Duration) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	check := func(ev reports.FaultEvent, done, began string, planned, doneAt, beganAt time.Duration, byStart bool) {
		at, what := doneAt, done
		if byStart {
			at, what = beganAt, began
		}
		if at < 0 || at-planned <= tol {
			return
		}
		out = append(out, fmt.Sprintf("fault %s on %s %s at %.2fs, planned at %.2fs (%.2fs late, tolerance %s): the run did not follow the scenario's schedule",
			ev.Fault, ev.Target, what, at.Seconds(), planned.Seconds(), (at-planned).Seconds(), tol))
	}
	for i, ev := range s.timeline {
		tm := s.timing[i]
		if ev.AppliedAt >= 0 {
			check(ev, "applied", "began to apply", tm.apply, offset(ev.AppliedAt), tm.applyBegan, tm.startsOnApply)
		}
		if ev.HealedAt >= 0 {
			check(ev, "healed", "began to heal", tm.heal, offset(ev.HealedAt), tm.healBegan, tm.startsOnUndo)
		}
	}
	return out
}

// offset turns seconds from the run start back into a duration.
func offset(seconds float64) time.Duration { return time.Duration(seconds * float64(time.Second)) }
