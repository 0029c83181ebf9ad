package cpulimit

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// busy starts a process group that spins one CPU.
func busy(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// cpuTime is a process's user+system time.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// share measures the CPU share a process gets over d.
func share(t *testing.T, pid int, d time.Duration) float64 {
	c0, t0 := cpuTime(t, pid), time.Now()
	time.Sleep(d)
	return float64(cpuTime(t, pid)-c0) / float64(time.Since(t0))
}

// TestLimitHoldsTheShare measures a spinning process's CPU share under each method: 25 % of
// one CPU within 8 points, and back near a whole CPU after the undo (twice).
func TestLimitHoldsTheShare(t *testing.T) {
	if testing.Short() {
		t.Skip("measures CPU time: run as a heavy job")
	}
	for _, method := range []string{MethodCgroup, MethodDutyCycle} {
		t.Run(method, func(t *testing.T) {
			pid := busy(t)
			l, err := Apply("busy", pid, nil, 0.25, method)
			if err != nil {
				if method == MethodCgroup {
					t.Skipf("no writable cgroup here: %v", err)
				}
				t.Fatal(err)
			}
			if l.Method != method {
				t.Fatalf("method: got %s, want %s", l.Method, method)
			}
			got := share(t, pid, 2*time.Second)
			t.Logf("%s: share %.3f of one CPU (want 0.25)", method, got)
			if got < 0.17 || got > 0.33 {
				t.Errorf("%s: share %.3f, want 0.25 ± 0.08", method, got)
			}
			if err := l.Undo(); err != nil {
				t.Fatal(err)
			}
			if err := l.Undo(); err != nil {
				t.Fatal(err)
			}
			if after := share(t, pid, time.Second); after < 0.6 {
				t.Errorf("after undo: share %.3f, want the whole CPU back (> 0.6)", after)
			}
			if method == MethodCgroup {
				root, v2, _ := cgroupDir()
				own, _ := ownCgroup(pid, v2)
				if strings.Contains(own, "faultline-cpu") {
					t.Errorf("after undo the process is still in %s", own)
				}
				if _, err := os.Stat(root + "/faultline-cpu-busy-" + strconv.Itoa(pid)); !os.IsNotExist(err) {
					t.Errorf("cgroup left behind: %v", err)
				}
			}
		})
	}
}

func TestApplyRefusesBadInput(t *testing.T) {
	for _, c := range []struct {
		name  string
		pgid  int
		share float64
		want  string
	}{
		{"share 0", 1, 0, "share 0"},
		{"share 1", 1, 1, "share 1"},
		{"not running", 0, 0.5, "not running"},
	} {
		if _, err := Apply("x", c.pgid, nil, c.share, ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error about %q", c.name, err, c.want)
		}
	}
}
