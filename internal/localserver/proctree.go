package localserver

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is what /proc/PID/stat says about one process.
type Proc struct {
	Pid, PPid, Pgid int
	State           byte
	Comm            string // the command name, as the kernel keeps it (at most 15 bytes)
	// CPU is the user + system time it burned, ChildCPU what its reaped children burned
	// (PostgreSQL's exited backends end up there), both in clock ticks (ClockTicks a second).
	CPU, ChildCPU int64
}

// ClockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times (100 on Linux).
const ClockTicks = 100

// Stat reads /proc/PID/stat.
func Stat(pid int) (Proc, bool) { return readStat(pid) }

// readStat reads /proc/PID/stat.
func readStat(pid int) (Proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Proc{}, false
	}
	return parseStat(pid, string(b))
}

// parseStat parses a /proc/PID/stat line; the command name may contain spaces and
// parentheses, so fields are counted after the last ')'.
func parseStat(pid int, s string) (Proc, bool) {
	open, i := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || i < open || i+2 >= len(s) {
		return Proc{}, false
	}
	// f[0] is field 3 (state); ppid 4, pgrp 5, utime 14, stime 15, cutime 16, cstime 17.
	f := strings.Fields(s[i+2:])
	if len(f) < 15 {
		return Proc{}, false
	}
	n := make([]int64, 4)
	for k := range n {
		v, err := strconv.ParseInt(f[11+k], 10, 64)
		if err != nil {
			return Proc{}, false
		}
		n[k] = v
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	return Proc{Pid: pid, PPid: ppid, Pgid: pgid, State: f[0][0], Comm: s[open+1 : i],
		CPU: n[0] + n[1], ChildCPU: n[2] + n[3]}, true
}

// Processes lists every live (not zombie) process in /proc.
func Processes() []Proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]Proc, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.State != 'Z' && st.State != 'X' {
			out = append(out, st)
		}
	}
	return out
}

// Tree returns root and all its live descendants. PostgreSQL backends call setsid(), so the
// process group alone does not reach them.
func Tree(root int) []int {
	if root <= 0 {
		return nil
	}
	procs := Processes()
	children := map[int][]int{}
	for _, p := range procs {
		children[p.PPid] = append(children[p.PPid], p.Pid)
	}
	var out []int
	queue := []int{root}
	seen := map[int]bool{}
	for len(queue) > 0 && len(out) < 10000 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
		queue = append(queue, children[p]...)
	}
	return out
}

// Alive reports whether pid is a live, non-zombie process.
func Alive(pid int) bool {
	st, ok := readStat(pid)
	return ok && st.State != 'Z' && st.State != 'X'
}

// signalTree sends sig to root's process group and to every descendant.
func signalTree(root int, sig syscall.Signal) error {
	pids := Tree(root)
	err := syscall.Kill(-root, sig)
	for _, p := range pids {
		_ = syscall.Kill(p, sig)
	}
	if err == syscall.ESRCH {
		err = nil
	}
	return err
}

// waitGone polls until none of pids is alive or the timeout passes.
func waitGone(pids []int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		left := false
		for _, p := range pids {
			if Alive(p) {
				left = true
				break
			}
		}
		if !left {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StartTime returns a process's start time in clock ticks since boot (field 22 of
// /proc/PID/stat), which tells a live pid from a recycled one.
func StartTime(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, false
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}
