package hotpath

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/faultline/faultline/internal/localserver"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times (100 on Linux).
const clockTicks = 100

// procTicks is the CPU (user + system) one process burned, in clock ticks; with children,
// what its reaped children burned too (PostgreSQL's backends end up there).
func procTicks(pid int, children bool) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	return parseStatTicks(string(b), children)
}

// parseStatTicks reads utime, stime (and cutime, cstime) from a /proc/PID/stat line. The
// command name may hold spaces and parentheses, so fields are counted after the last ')'.
func parseStatTicks(stat string, children bool) (int64, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17.
	if len(f) < 15 {
		return 0, false
	}
	last := 13
	if children {
		last = 15
	}
	var n int64
	for _, s := range f[11:last] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false
		}
		n += v
	}
	return n, true
}

// treeTicks is the CPU of root and every live descendant, with what their reaped children
// burned, so a backend that exits during the window still counts (in its parent).
func treeTicks(root int) int64 {
	var n int64
	for _, pid := range localserver.Tree(root) {
		t, _ := procTicks(pid, true)
		n += t
	}
	return n
}

// selfTicks is this process's own CPU: without its reaped children, which would count wrk.
func selfTicks() int64 {
	t, _ := procTicks(os.Getpid(), false)
	return t
}
