// Package cpulimit caps a process group's CPU at a share of one CPU: by a cgroup CPU quota
// where the machine lets this process create one, else by a stop/continue duty cycle.
package cpulimit

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Methods a Limit can use.
const (
	MethodCgroup    = "cgroup"
	MethodDutyCycle = "duty-cycle"
)

// Period is the CFS period of a quota and the length of one stop/continue cycle: short
// enough that a request sees a slower process rather than a frozen one.
const Period = 10 * time.Millisecond

// DutyPeriod is one stop/continue cycle: longer than Period, because each cycle costs two
// signals and two wake-ups whose lateness lengthens the running part (measured here: 31.5 %
// for 25 % at 10 ms).
const DutyPeriod = 20 * time.Millisecond

// Root is where cgroup file systems are mounted; a variable for tests.
var Root = "/sys/fs/cgroup"

// Limit is an applied cap. Undo removes it; it is idempotent and safe after the processes
// are gone.
type Limit struct {
	Method string
	Share  float64 // of one CPU
	undo   func() error
	mu     sync.Mutex
	done   bool
}

// Undo lifts the cap: processes go back to their cgroup (which is removed), or are continued.
func (l *Limit) Undo() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	if err := l.undo(); err != nil {
		return err
	}
	l.done = true
	return nil
}

// Apply caps the process group pgid (its leader's pid) and the processes in pids at share of
// one CPU, share in (0, 1). method forces a method ("" = cgroup when possible).
func Apply(name string, pgid int, pids []int, share float64, method string) (*Limit, error) {
	if !(share > 0 && share < 1) {
		return nil, fmt.Errorf("cpulimit: share %v: want a share of one CPU in (0, 1)", share)
	}
	if pgid <= 0 {
		return nil, fmt.Errorf("cpulimit: %s is not running", name)
	}
	if method == "" || method == MethodCgroup {
		l, err := applyCgroup(name, pgid, pids, share)
		if err == nil {
			l.Share = share
		}
		if err == nil || method == MethodCgroup {
			return l, err
		}
	}
	l := applyDutyCycle(pgid, share)
	l.Share = share
	return l, nil
}

// cgroupDir finds the cpu controller's hierarchy: v1 (a "cpu" mount with cfs files) or v2.
func cgroupDir() (dir string, v2 bool, err error) {
	for _, d := range []string{"cpu", "cpu,cpuacct", "cpuacct,cpu"} {
		p := filepath.Join(Root, d)
		if _, err := os.Stat(filepath.Join(p, "cpu.cfs_quota_us")); err == nil {
			return p, false, nil
		}
	}
	if b, err := os.ReadFile(filepath.Join(Root, "cgroup.controllers")); err == nil && strings.Contains(" "+string(b)+" ", " cpu") {
		return Root, true, nil
	}
	return "", false, errors.New("cpulimit: no cgroup cpu controller")
}

// ownCgroup is the cgroup of pid in the cpu hierarchy, relative to its root.
func ownCgroup(pid int, v2 bool) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		if !v2 {
			for _, c := range strings.Split(parts[1], ",") {
				if c == "cpu" {
					return parts[2], nil
				}
			}
		}
	}
	return "", fmt.Errorf("cpulimit: pid %d: no cpu cgroup", pid)
}

func applyCgroup(name string, pgid int, pids []int, share float64) (*Limit, error) {
	root, v2, err := cgroupDir()
	if err != nil {
		return nil, err
	}
	orig, err := ownCgroup(pgid, v2)
	if err != nil {
		return nil, err
	}
	origDir := filepath.Join(root, orig)
	dir := filepath.Join(origDir, fmt.Sprintf("faultline-cpu-%s-%d", name, pgid))
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cpulimit: %w", err)
	}
	period := Period.Microseconds()
	quota := int64(share * float64(period))
	if quota < 1000 {
		quota = 1000 // the kernel's minimum quota is 1 ms: a 10 ms period allows shares >= 10 %
		period = int64(float64(quota) / share)
	}
	undo := func() error {
		var errs []error
		for _, p := range procs(dir) {
			if err := writeFile(filepath.Join(origDir, "cgroup.procs"), strconv.Itoa(p)); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, err)
			}
		}
		// rmdir can fail for a moment while the kernel finishes moving the last task.
		var err error
		for i := 0; i < 50; i++ {
			if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cpulimit: remove %s: %w", dir, err))
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (*Limit, error) {
		return nil, errors.Join(fmt.Errorf("cpulimit: %w", err), undo())
	}
	if v2 {
		if err := writeFile(filepath.Join(dir, "cpu.max"), fmt.Sprintf("%d %d", quota, period)); err != nil {
			return fail(err)
		}
	} else {
		if err := writeFile(filepath.Join(dir, "cpu.cfs_period_us"), strconv.FormatInt(period, 10)); err != nil {
			return fail(err)
		}
		if err := writeFile(filepath.Join(dir, "cpu.cfs_quota_us"), strconv.FormatInt(quota, 10)); err != nil {
			return fail(err)
		}
	}
	for _, p := range append([]int{pgid}, pids...) {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(p)); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fail(err)
		}
	}
	return &Limit{Method: MethodCgroup, undo: undo}, nil
}

func procs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(s)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("write %s to %s: %w", s, path, werr)
	}
	return cerr
}

// applyDutyCycle lets the group run share of each Period and stops it for the rest. The
// group is continued when the cycle ends, whatever the state it was in.
func applyDutyCycle(pgid int, share float64) *Limit {
	run := time.Duration(share * float64(DutyPeriod))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer syscall.Kill(-pgid, syscall.SIGCONT)
		next := time.Now()
		for {
			start := next
			next = next.Add(DutyPeriod)
			if syscall.Kill(-pgid, syscall.SIGCONT) == syscall.ESRCH {
				return
			}
			// Absolute deadlines: a late wake-up shortens the next phase instead of
			// adding up cycle after cycle.
			if sleep(stop, time.Until(start.Add(run))) {
				return
			}
			_ = syscall.Kill(-pgid, syscall.SIGSTOP)
			if sleep(stop, time.Until(next)) {
				return
			}
		}
	}()
	var once sync.Once
	return &Limit{Method: MethodDutyCycle, undo: func() error {
		once.Do(func() { close(stop); wg.Wait() })
		return nil
	}}
}

func sleep(stop <-chan struct{}, d time.Duration) (stopped bool) {
	if d <= 0 {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return true
	case <-t.C:
		return false
	}
}
