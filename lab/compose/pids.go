package compose

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The lab's timing checks allow for the time a service's threads waited for a CPU
// (internal/runqueue), read from the kernel's per-thread statistics of the service's process.
// A container's processes are this machine's processes too, seen under other ids when the lab
// itself runs in a container: HostPids finds the service's process on this machine and proves
// it is the service before anything is read from it.

// ServicePid returns pid when it runs `faultline serve component`, else the child of pid that
// does (a compose container runs its service under docker-init), else 0 — among others when
// the lab runs in a container of its own and pid names some other process here, whose waits
// must never be taken for the service's.
func ServicePid(pid int, component string) int {
	if pid <= 0 {
		return 0
	}
	if servesComponent(pid, component) {
		return pid
	}
	// Each thread lists the children it started.
	files, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(f); err == nil && servesComponent(child, component) {
				return child
			}
		}
	}
	return 0
}

// servesComponent says whether process pid's arguments after the program are "serve component".
func servesComponent(pid int, component string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	return len(args) == 3 && string(args[1]) == "serve" && string(args[2]) == component
}

// HostPids answers, for a component, the process on this machine that serves it: asked every
// few milliseconds by the sampler, it keeps each answer while the process still serves the
// component and asks the Engine again (lookup: the container's main process) at most every
// refresh, so a restarted container's new process is found.
type HostPids struct {
	lookup  func(ctx context.Context, component string) (int, error)
	refresh time.Duration

	mu    sync.Mutex
	known map[string]hostPid
}

type hostPid struct {
	pid    int
	looked time.Time
}

// NewHostPids returns a HostPids over lookup.
func NewHostPids(lookup func(ctx context.Context, component string) (int, error)) *HostPids {
	return &HostPids{lookup: lookup, refresh: 250 * time.Millisecond, known: map[string]hostPid{}}
}

// Pid is the process serving component on this machine, or 0 when none is known.
func (h *HostPids) Pid(component string) int {
	h.mu.Lock()
	k := h.known[component]
	h.mu.Unlock()
	if k.pid > 0 && servesComponent(k.pid, component) {
		return k.pid
	}
	if time.Since(k.looked) < h.refresh {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	pid := 0
	if main, err := h.lookup(ctx, component); err == nil {
		pid = ServicePid(main, component)
	}
	h.mu.Lock()
	h.known[component] = hostPid{pid: pid, looked: time.Now()}
	h.mu.Unlock()
	return pid
}
