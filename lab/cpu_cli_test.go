package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/cpulimit"
	"github.com/faultline/faultline/lab/ledger"
)

// TestCPUFaultAgainstUp drives the cpu process fault on a running `faultline up` from
// "another shell": the lab that owns the processes applies it, status shows it, and it is
// lifted on heal, heal --all, HALT, the dead-man switch and the lab's exit; bad input exits 2
// with the scenario format's messages.
func TestCPUFaultAgainstUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real stores")
	}
	up, st, stateDir, _ := upProcessOf(t, "link-db,analytics-db,redis", "--dead-man", "2s")
	faultline := func(args ...string) (string, error) {
		out, err := exec.Command(binary, append(args, "--state-dir", stateDir)...).CombinedOutput()
		return string(out), err
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := faultline(args...)
		if err != nil {
			t.Fatalf("faultline %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return out
	}
	redis := func() ComponentStatus {
		t.Helper()
		var s Status
		if err := json.Unmarshal([]byte(run("status", "--json")), &s); err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Components {
			if c.Name == "redis" {
				return c
			}
		}
		t.Fatal("no redis in the status")
		return ComponentStatus{}
	}
	pid := redis().Pid
	// limited says whether the cap acts on redis: its process sits in the fault's cgroup, or
	// the duty cycle is seen stopping it within 200 ms.
	limited := func() bool {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); strings.Contains(string(b), "faultline-cpu-redis-") {
			return true
		}
		for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
			if f := strings.Fields(procState(pid)); len(f) > 2 && f[2] == "T" {
				return true
			}
		}
		return false
	}
	inject := func() {
		t.Helper()
		run("inject", "redis", "cpu", "share=0.2")
		if c := redis(); !strings.HasPrefix(c.CPU, "20% (") || c.State != "ready" || !limited() {
			t.Fatalf("after inject cpu: redis %+v, limited %v", c, limited())
		}
	}
	lifted := func(after string) {
		t.Helper()
		if c := redis(); c.CPU != "" || c.Pid != pid || c.State != "ready" || limited() {
			t.Errorf("after %s: redis %+v, limited %v, want the same process ready and unlimited", after, c, limited())
		}
	}

	// Bad input: refused before the lab is asked, with the registry's words, exit 2.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inject", "redis", "cpu", "share=1.5"}, "share 1.5: want a share of one CPU in (0, 1)"},
		{[]string{"inject", "redis", "cpu"}, "share is required"},
		{[]string{"inject", "redis", "cpu", "shar=0.5"}, "shar"},
		{[]string{"inject", "redirect->redis", "cpu", "share=0.5"}, "component"},
	} {
		out, err := faultline(c.args...)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(out, c.want) {
			t.Errorf("faultline %v: err %v, want exit 2 saying %q: %s", c.args, err, c.want, out)
		}
	}

	inject()
	out, _ := faultline("inject", "redis", "cpu", "share=0.5")
	if !strings.Contains(out, "already has a CPU limit") {
		t.Errorf("a second cpu fault on redis: %s", out)
	}
	run("heal", "redis")
	lifted("heal redis")

	inject()
	run("heal", "--all")
	lifted("heal --all")

	inject()
	run("halt")
	lifted("halt")
	if out, err := faultline("inject", "redis", "cpu", "share=0.2"); err == nil {
		t.Errorf("inject while halted: %s", out)
	}
	run("halt", "--release")

	// A console's fault without heartbeats is healed by the dead-man switch (2 s here).
	r, err := Attach(stateDir, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.Inject(ctx, ledger.Request{Target: "redis", Fault: "cpu", Params: map[string]any{"share": 0.2}, Source: ledger.SourceConsole, Who: "test"}); err != nil {
		t.Fatal(err)
	}
	if !limited() {
		t.Fatal("the console's cpu fault does not act")
	}
	eventually(t, 10*time.Second, "dead-man heal", func() error {
		if c := redis(); c.CPU != "" {
			return fmt.Errorf("redis still limited: %+v", c)
		}
		return nil
	})
	lifted("dead-man switch")

	// The lab's exit lifts it too: no cgroup is left behind.
	inject()
	cgroup, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err := up.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- up.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("faultline up did not exit on SIGTERM")
	}
	waitAllGone(t, []int{pid}, 10*time.Second)
	assertStateGone(t, st)
	for _, line := range strings.Split(string(cgroup), "\n") {
		if i := strings.Index(line, "faultline-cpu-redis-"); i >= 0 {
			rel := line[strings.LastIndex(line[:i], ":")+1:]
			matches, _ := filepath.Glob(cpulimit.Root + "/*" + rel)
			more, _ := filepath.Glob(cpulimit.Root + rel)
			if len(matches)+len(more) > 0 {
				t.Errorf("cgroup left after the lab's exit: %v %v", matches, more)
			}
		}
	}
}
