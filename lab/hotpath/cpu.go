package hotpath

import (
	"os"

	"github.com/faultline/faultline/internal/localserver"
)

// treeTicks is the CPU of root and every live descendant, with what their reaped children
// burned, so a backend that exits during the window still counts (in its parent).
func treeTicks(root int) int64 {
	var n int64
	for _, pid := range localserver.Tree(root) {
		if p, ok := localserver.Stat(pid); ok {
			n += p.CPU + p.ChildCPU
		}
	}
	return n
}

// selfTicks is this process's own CPU: without its reaped children, which would count wrk.
func selfTicks() int64 {
	p, _ := localserver.Stat(os.Getpid())
	return p.CPU
}
