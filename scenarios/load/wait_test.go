package load

import (
	"testing"
	"time"
)

// TestWaiterNeverEarly: the pacer's wait never ends before the send is due (a send before its
// time would make the rate higher than asked), and it can be reused; with no waiter it falls
// back to time.Sleep. How late it ends is measured by faultline bench --load, not here.
func TestWaiterNeverEarly(t *testing.T) {
	w := newWaiter()
	defer w.close()
	var none *waiter
	for _, sleeper := range []*waiter{w, none} {
		for _, d := range []time.Duration{300 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond} {
			for range 20 {
				begin := time.Now()
				sleeper.sleep(d)
				if got := time.Since(begin); got < d {
					t.Fatalf("asked to wait %v, woke after %v", d, got)
				}
			}
		}
	}
}
