//go:build !linux

package load

import "time"

// waiter is time.Sleep where there is no timerfd.
type waiter struct{}

func newWaiter() *waiter { return nil }

func (w *waiter) sleep(d time.Duration) { time.Sleep(d) }

func (w *waiter) close() {}
