package compose

import (
	"context"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

const helperServe = "FAULTLINE_TEST_SERVE"

// TestServicePid: a process running "serve redirect" is redirect's, directly or as the child of
// the pid asked about (docker-init in a compose container); no other process is, so a pid from
// another PID namespace can never be read as a service's. HostPids keeps an answer while it
// holds, asks the engine again once the process is gone, and not more often than its refresh.
func TestServicePid(t *testing.T) {
	cmd := exec.Command(os.Args[0], "serve", "redirect")
	cmd.Env = append(os.Environ(), helperServe+"=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	gone := false
	kill := func() {
		if !gone {
			gone = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	defer kill()
	for end := time.Now().Add(5 * time.Second); !servesComponent(pid, "redirect"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the stand-in never showed its arguments")
		}
	}
	for _, c := range []struct {
		pid       int
		component string
		want      int
	}{
		{pid, "redirect", pid},
		{os.Getpid(), "redirect", pid}, // its parent: as docker-init
		{pid, "link", 0},
		{os.Getpid(), "link", 0},
		{0, "redirect", 0},
		{1 << 30, "redirect", 0}, // no such process
	} {
		if got := ServicePid(c.pid, c.component); got != c.want {
			t.Errorf("ServicePid(%d, %s) = %d, want %d", c.pid, c.component, got, c.want)
		}
	}

	var lookups atomic.Int32
	h := NewHostPids(func(context.Context, string) (int, error) {
		lookups.Add(1)
		return os.Getpid(), nil // the container's main process: the stand-in's parent
	})
	h.refresh = time.Hour
	if got := h.Pid("redirect"); got != pid {
		t.Fatalf("Pid = %d, want the stand-in %d", got, pid)
	}
	if got := h.Pid("redirect"); got != pid || lookups.Load() != 1 {
		t.Fatalf("asked again: Pid = %d after %d lookups, want %d after 1 (kept while it serves)", got, lookups.Load(), pid)
	}
	kill()
	if got := h.Pid("redirect"); got != 0 {
		t.Errorf("the process ended: Pid = %d, want 0", got)
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("%d lookups within the refresh, want 1", n)
	}
	h.refresh = 0
	if got := h.Pid("redirect"); got != 0 || lookups.Load() != 2 {
		t.Errorf("after the refresh: Pid = %d after %d lookups, want 0 after 2", got, lookups.Load())
	}
}
