// Package ledger keeps what a lab's operators do by hand: the faults they injected with their
// undo, the HALT switch, the dead-man timer, notes, and the timeline of it all.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// Sources of a request: who holds the dead-man switch of the faults it injects.
const (
	SourceConsole = "console" // a browser page; its faults need its heartbeats
	SourceCLI     = "cli"
	// SourceScenario: a scenario run's schedule applied it (faultline run --console); only
	// its owner, a hand heal or a halt undoes it, never the dead-man switch.
	SourceScenario = "scenario"
)

// Kinds of timeline event.
const (
	KindInject  = "inject"
	KindHeal    = "heal"
	KindExpire  = "expire"  // a fault's `for` ran out
	KindDeadman = "deadman" // no heartbeat: console faults healed
	KindHalt    = "halt"
	KindRelease = "release"
	KindRefused = "refused" // an inject refused while halted
	KindError   = "error"
	KindNote    = "note"
	KindLoad    = "load" // a load stream started, stopped or changed rate
)

// DefaultDeadman is how long console faults survive without a heartbeat.
const DefaultDeadman = 15 * time.Second

// Sentinel errors the HTTP layers map to statuses.
var (
	ErrHalted   = errors.New("ledger: halted: no fault can be injected until the halt is released")
	ErrInvalid  = errors.New("ledger: invalid request")
	ErrNotFound = errors.New("ledger: no such active fault")
)

// invalid is an ErrInvalid whose message is the bare reason, so the console shows what the
// CLI shows for the same mistake.
type invalid struct{ msg string }

func (e invalid) Error() string { return e.msg }
func (e invalid) Unwrap() error { return ErrInvalid }

// Invalid returns an error matching ErrInvalid with msg as its whole message.
func Invalid(msg string) error { return invalid{msg} }

// Request asks for one fault.
type Request struct {
	Target string          `json:"target"`
	Fault  string          `json:"fault"`
	Params map[string]any  `json:"params,omitempty"`
	For    toxics.Duration `json:"for,omitempty"` // 0 = until healed
	Who    string          `json:"who,omitempty"`
	Source string          `json:"source,omitempty"` // console or cli
}

// Fault is one active fault.
type Fault struct {
	ID        int               `json:"id"`
	Fault     string            `json:"fault"`
	Target    string            `json:"target"`
	Params    map[string]string `json:"params,omitempty"`
	Who       string            `json:"who,omitempty"`
	Source    string            `json:"source"`
	AppliedAt time.Time         `json:"applied_at"`
	Until     time.Time         `json:"until,omitzero"` // zero: until healed
}

// Event is one line of the timeline.
type Event struct {
	Seq     int               `json:"seq"`
	At      time.Time         `json:"at"`
	Kind    string            `json:"kind"`
	Who     string            `json:"who,omitempty"`
	Source  string            `json:"source,omitempty"`
	FaultID int               `json:"fault_id,omitempty"`
	Fault   string            `json:"fault,omitempty"`
	Target  string            `json:"target,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Text    string            `json:"text,omitempty"`
}

// Snapshot is the ledger's state at one moment.
type Snapshot struct {
	Halted   bool          `json:"halted"`
	HaltedBy string        `json:"halted_by,omitempty"`
	HaltedAt time.Time     `json:"halted_at,omitzero"`
	Faults   []Fault       `json:"faults"`
	Deadman  time.Duration `json:"deadman_ns"`
	LastBeat time.Time     `json:"last_beat,omitzero"`
	Events   int           `json:"events"` // total so far; Events(since) reads them
}

// Options configure a Ledger.
type Options struct {
	// Heal heals one edge or component, or everything for "": the lab's own heal, which also
	// removes what nobody recorded here (a toxic added through the Toxiproxy API directly).
	Heal func(ctx context.Context, target string) error
	// Deadman is how long faults injected from a console survive without a heartbeat
	// (0 = DefaultDeadman; negative = never).
	Deadman time.Duration
	Now     func() time.Time
}

// Ledger is safe for concurrent use.
type Ledger struct {
	env     toxics.Env
	heal    func(ctx context.Context, target string) error
	deadman time.Duration
	now     func() time.Time

	mu       sync.Mutex
	next     int
	active   map[int]*entry
	halted   bool
	haltedBy string
	haltedAt time.Time
	lastBeat time.Time
	events   []Event
	onHalt   []func(ctx context.Context)
	onChange []func()
}

type entry struct {
	Fault
	undo   toxics.Undo
	healed bool
}

// New returns a ledger acting through env.
func New(env toxics.Env, o Options) *Ledger {
	if o.Deadman == 0 {
		o.Deadman = DefaultDeadman
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Heal == nil {
		o.Heal = func(context.Context, string) error { return nil }
	}
	return &Ledger{env: env, heal: o.Heal, deadman: o.Deadman, now: o.Now, active: map[int]*entry{}}
}

// Check builds the fault a request names and checks that its target fits the fault's kind,
// without touching anything: the CLI and the console share its messages.
func Check(name, target string, params map[string]any) (toxics.Fault, error) {
	f, err := toxics.New(name, params)
	if err != nil {
		return nil, err
	}
	switch f.Kind() {
	case toxics.Network:
		if !topology.IsEdge(target) {
			return nil, fmt.Errorf("%s is a network fault and %q is not an edge (edges: %s)", name, target, strings.Join(topology.EdgeNames(), ", "))
		}
	case toxics.Process:
		if !topology.IsComponent(target) {
			return nil, fmt.Errorf("%s is a process fault and %q is not a component (components: %s)", name, target, strings.Join(topology.Components(), ", "))
		}
	}
	return f, nil
}

// Inject applies a fault and records it. It refuses while halted (ErrHalted), and a fault
// whose apply finished after a halt began is undone at once: no fault outlives a halt.
func (l *Ledger) Inject(ctx context.Context, r Request) (Fault, error) {
	f, err := Check(r.Fault, r.Target, r.Params)
	if err != nil {
		return Fault{}, Invalid(err.Error())
	}
	if r.For < 0 {
		return Fault{}, Invalid(fmt.Sprintf("for %s: want >= 0", r.For))
	}
	if c, ok := f.(*toxics.Crash); ok && r.For == 0 {
		r.For = c.RestartAfter // the crash lasts until its restart, as on the CLI
	}
	if r.Source != SourceConsole {
		r.Source = SourceCLI
	}
	l.mu.Lock()
	l.beatLocked()
	if l.halted {
		l.logLocked(Event{Kind: KindRefused, Who: r.Who, Source: r.Source, Fault: r.Fault, Target: r.Target, Text: "halted by " + l.haltedBy})
		l.mu.Unlock()
		return Fault{}, ErrHalted
	}
	l.mu.Unlock()
	undo, err := f.Apply(ctx, l.env, r.Target)
	if err != nil {
		l.log(Event{Kind: KindError, Who: r.Who, Source: r.Source, Fault: r.Fault, Target: r.Target, Text: err.Error()})
		return Fault{}, err
	}
	now := l.now()
	l.mu.Lock()
	if l.halted { // a halt began while we applied
		l.mu.Unlock()
		_ = undo(context.WithoutCancel(ctx))
		return Fault{}, ErrHalted
	}
	l.next++
	e := &entry{Fault: Fault{ID: l.next, Fault: r.Fault, Target: r.Target, Params: Strings(r.Params), Who: r.Who, Source: r.Source, AppliedAt: now}, undo: undo}
	if r.For > 0 {
		e.Until = now.Add(r.For.D())
	}
	l.active[e.ID] = e
	l.logLocked(Event{At: now, Kind: KindInject, Who: r.Who, Source: r.Source, FaultID: e.ID, Fault: r.Fault, Target: r.Target, Params: e.Params, Text: forText(r.For)})
	fc := e.Fault
	l.mu.Unlock()
	return fc, nil
}

// Adopt records a fault someone else applied (a scenario run's schedule), so it shows and a
// heal or a halt reaches it through undo; the owner reports its own heal with Drop. undo must
// be safe to call after the owner healed (it then does nothing). Adopting while halted is
// allowed: the fault is on, and the halt's owner heals it.
func (l *Ledger) Adopt(name, target string, params map[string]string, undo toxics.Undo) Fault {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	e := &entry{Fault: Fault{ID: l.next, Fault: name, Target: target, Params: params, Who: "scenario", Source: SourceScenario, AppliedAt: now}, undo: undo}
	l.active[e.ID] = e
	l.logLocked(Event{At: now, Kind: KindInject, Who: "scenario", Source: SourceScenario, FaultID: e.ID, Fault: name, Target: target, Params: params, Text: "scheduled"})
	return e.Fault
}

// Drop forgets an adopted fault its owner healed, logging the heal (why: an error, if the
// heal failed). A fault already healed through the ledger is not logged twice.
func (l *Ledger) Drop(id int, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.active[id]
	if !ok {
		return
	}
	delete(l.active, id)
	l.logLocked(Event{Kind: KindHeal, Who: "scenario", Source: e.Source, FaultID: id, Fault: e.Fault.Fault, Target: e.Target, Params: e.Params, Text: orDefault(why, "scheduled")})
}

func forText(d toxics.Duration) string {
	if d <= 0 {
		return "until healed"
	}
	return "for " + d.String()
}

// Strings renders fault parameters as text, for the timeline and reports.
func Strings(params map[string]any) map[string]string {
	if len(params) == 0 {
		return nil
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// HealID undoes one recorded fault. Healing one already gone is not an error.
func (l *Ledger) HealID(ctx context.Context, id int, who string) error {
	l.mu.Lock()
	e, ok := l.active[id]
	if ok {
		delete(l.active, id)
	}
	l.beatLocked()
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return l.undo(ctx, e, KindHeal, who, "")
}

// Heal undoes every recorded fault on target ("" = all) and then runs the lab's heal on it,
// which catches what was never recorded here.
func (l *Ledger) Heal(ctx context.Context, target, who string) error {
	l.mu.Lock()
	l.beatLocked()
	es := l.takeLocked(func(e *entry) bool { return target == "" || e.Target == target })
	l.mu.Unlock()
	var errs []error
	for _, e := range es {
		errs = append(errs, l.undo(ctx, e, KindHeal, who, ""))
	}
	if err := l.heal(ctx, target); err != nil {
		errs = append(errs, err)
	} else if len(es) == 0 {
		l.log(Event{Kind: KindHeal, Who: who, Target: orAll(target), Text: "nothing recorded; lab heal ran"})
	}
	return errors.Join(errs...)
}

func orAll(t string) string {
	if t == "" {
		return "everything"
	}
	return t
}

// OnHalt registers what else a halt stops (the load). Hooks run after every fault is healed.
func (l *Ledger) OnHalt(f func(ctx context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onHalt = append(l.onHalt, f)
}

// Halt blocks new faults, heals every fault (recorded or not) and runs the halt hooks. A halt
// while halted heals again (a second press must never do less than the first).
func (l *Ledger) Halt(ctx context.Context, who string) error {
	l.mu.Lock()
	if !l.halted {
		l.halted, l.haltedBy, l.haltedAt = true, orDefault(who, "someone"), l.now()
	}
	l.beatLocked()
	es := l.takeLocked(func(*entry) bool { return true })
	hooks := append([]func(context.Context){}, l.onHalt...)
	l.logLocked(Event{Kind: KindHalt, Who: who, Text: fmt.Sprintf("%d recorded fault(s) healed, load stopped, injects blocked", len(es))})
	l.mu.Unlock()
	var errs []error
	for _, e := range es {
		errs = append(errs, l.undo(ctx, e, KindHeal, who, "halt"))
	}
	if err := l.heal(ctx, ""); err != nil {
		errs = append(errs, err)
	}
	for _, h := range hooks {
		h(ctx)
	}
	return errors.Join(errs...)
}

// Release lifts a halt.
func (l *Ledger) Release(who string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.beatLocked()
	if !l.halted {
		return
	}
	l.halted, l.haltedBy, l.haltedAt = false, "", time.Time{}
	l.logLocked(Event{Kind: KindRelease, Who: who})
}

// Halted reports whether injects are blocked.
func (l *Ledger) Halted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.halted
}

// Beat records a heartbeat from a console or the CLI.
func (l *Ledger) Beat() {
	l.mu.Lock()
	l.beatLocked()
	l.mu.Unlock()
}

func (l *Ledger) beatLocked() { l.lastBeat = l.now() }

// Note adds a time-stamped note to the timeline.
func (l *Ledger) Note(who, text string) (Event, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Event{}, Invalid("note: empty")
	}
	if len(text) > 4000 {
		return Event{}, Invalid(fmt.Sprintf("note: %d bytes, at most 4000", len(text)))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.beatLocked()
	return l.logLocked(Event{Kind: KindNote, Who: who, Text: text}), nil
}

// Log adds an event (the load's changes) to the timeline.
func (l *Ledger) Log(e Event) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.logLocked(e)
}

func (l *Ledger) log(e Event) { l.Log(e) }

func (l *Ledger) logLocked(e Event) Event {
	if e.At.IsZero() {
		e.At = l.now()
	}
	e.Seq = len(l.events) + 1
	l.events = append(l.events, e)
	for _, f := range l.onChange {
		f()
	}
	return e
}

// OnChange registers f, called after every event the ledger logs (a fault injected from the
// CLI, a heal, a halt, a note), so a live view refreshes at once instead of at its next tick.
// f runs under the ledger's lock: it must not block or call the ledger.
func (l *Ledger) OnChange(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onChange = append(l.onChange, f)
}

// Snapshot returns the current state.
func (l *Ledger) Snapshot() Snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Snapshot{Halted: l.halted, HaltedBy: l.haltedBy, HaltedAt: l.haltedAt, Deadman: l.deadman, LastBeat: l.lastBeat, Events: len(l.events), Faults: []Fault{}}
	for _, e := range l.active {
		s.Faults = append(s.Faults, e.Fault)
	}
	sort.Slice(s.Faults, func(i, j int) bool { return s.Faults[i].ID < s.Faults[j].ID })
	return s
}

// Events returns the events after the first since.
func (l *Ledger) Events(since int) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	since = max(0, min(since, len(l.events)))
	return append([]Event(nil), l.events[since:]...)
}

// Run heals faults whose time ran out and, when no heartbeat came for the dead-man time,
// every fault a console injected. It returns when ctx ends.
func (l *Ledger) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Tick(ctx)
		}
	}
}

// Tick does one round of Run's work.
func (l *Ledger) Tick(ctx context.Context) {
	now := l.now()
	l.mu.Lock()
	expired := l.takeLocked(func(e *entry) bool { return !e.Until.IsZero() && !now.Before(e.Until) })
	var dead []*entry
	silent := now.Sub(l.lastBeat)
	if l.deadman > 0 && silent > l.deadman {
		dead = l.takeLocked(func(e *entry) bool { return e.Source == SourceConsole })
	}
	l.mu.Unlock()
	for _, e := range expired {
		_ = l.undo(ctx, e, KindExpire, "", "")
	}
	for _, e := range dead {
		_ = l.undo(ctx, e, KindDeadman, "", fmt.Sprintf("no console or CLI heartbeat for %s (dead-man %s)", silent.Round(time.Second), l.deadman))
	}
}

func (l *Ledger) takeLocked(match func(*entry) bool) []*entry {
	var out []*entry
	for id, e := range l.active {
		if match(e) {
			out = append(out, e)
			delete(l.active, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// undo runs an entry's undo (bounded to a minute: a restart waits for readiness) and logs it.
func (l *Ledger) undo(ctx context.Context, e *entry, kind, who, why string) error {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := e.undo(uctx)
	ev := Event{Kind: kind, Who: who, Source: e.Source, FaultID: e.ID, Fault: e.Fault.Fault, Target: e.Target, Params: e.Params, Text: why}
	if err != nil {
		ev.Text = strings.TrimSpace(why + " undo failed: " + err.Error())
	}
	l.log(ev)
	return err
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
