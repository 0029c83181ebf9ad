package load

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waiter sleeps until a send is due with a timerfd read through the runtime's poller. A
// plain time.Sleep wakes 0-1 ms late when the process is idle: the runtime then waits for its
// timers in epoll_wait, whose timeout is whole milliseconds (runtime/netpoll_epoll.go), so the
// send lag p99 sat just over 1 ms at 100/s and 1,000/s. A timerfd is an event on that same
// epoll, so it ends the wait when it expires, to the microsecond. The fd is the stream's own,
// closed with it; on any error the wait falls back to time.Sleep.
type waiter struct {
	f  *os.File
	fd int
}

func newWaiter() *waiter {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &waiter{f: os.NewFile(uintptr(fd), "timerfd"), fd: fd}
}

func (w *waiter) sleep(d time.Duration) {
	if w == nil {
		time.Sleep(d)
		return
	}
	begin := time.Now()
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	if err := unix.TimerfdSettime(w.fd, 0, &spec, nil); err != nil {
		time.Sleep(d)
		return
	}
	var expirations [8]byte
	if _, err := w.f.Read(expirations[:]); err != nil {
		time.Sleep(d - time.Since(begin))
	}
}

func (w *waiter) close() {
	if w != nil {
		_ = w.f.Close()
	}
}
