// Package toxics holds the fault types the lab can inject, one file each, registered by name.
package toxics

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Kind says what a fault acts on.
type Kind string

const (
	Network Kind = "network" // acts on an edge (a Toxiproxy proxy)
	Process Kind = "process" // acts on a component (an OS process or container)
)

// Undo returns the target to its state before the fault. It must be safe to call more than
// once and after the target went away.
type Undo func(ctx context.Context) error

// Fault is one fault type. Its parameters are exported struct fields tagged `json:"…"`; New
// fills them from a scenario or the CLI.
type Fault interface {
	Kind() Kind
	// Validate checks the parameters without touching anything.
	Validate() error
	// Apply injects the fault on target (an edge name for Network, a component for Process)
	// and returns its undo.
	Apply(ctx context.Context, env Env, target string) (Undo, error)
}

// Starter is implemented by a fault that starts its component and waits until it is ready in
// one of its steps (crash in its undo, restart when applied). That wait is the component's own
// recovery (seconds for a database after SIGKILL), not a delay of the lab: a schedule judges
// the lab's punctuality for such a step by when the step began.
type Starter interface {
	// Starts says whether Apply and whether the undo start the component.
	Starts() (onApply, onUndo bool)
}

// Env is what faults act through; the lab implements it for each backend.
type Env interface {
	// Proxy returns the Toxiproxy proxy of an edge.
	Proxy(edge string) (*toxiclient.Proxy, error)
	// Component returns the process control of a component.
	Component(name string) (Controller, error)
}

// Controller controls one component's process.
type Controller interface {
	Kill(ctx context.Context) error   // SIGKILL to the process group; returns once it is gone
	Start(ctx context.Context) error  // start again and wait until ready
	Pause(ctx context.Context) error  // SIGSTOP
	Resume(ctx context.Context) error // SIGCONT
	Running() bool
}

// ErrUnknown is returned by New for a name nobody registered.
var ErrUnknown = errors.New("toxics: unknown fault")

var (
	mu       sync.RWMutex
	registry = map[string]func() Fault{}
)

// Register makes a fault type available by name; a duplicate name panics, as it is a
// programming error found at init.
func Register(name string, factory func() Fault) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("toxics: %q registered twice", name))
	}
	registry[name] = factory
}

// Names lists the registered fault names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns a fresh zero fault of a registered type.
func Lookup(name string) (Fault, error) {
	mu.RLock()
	factory, ok := registry[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknown, name, Names())
	}
	return factory(), nil
}
