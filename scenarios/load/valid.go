package load

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/internal/percentile"
)

// MaxSendLagP99 is the largest acceptable p99 send lag. Beyond it the open model broke down:
// requests queued in the generator, so latencies are understated. On a shared 2-core machine
// scheduler stalls alone give a p99 lag of 10–16 ms at 100/s (measured 2026-11-25 with other
// builds running), which is noise against SLOs of 50 ms and more; 25 ms still catches a
// generator that queues.
const MaxSendLagP99 = 25 * time.Millisecond

// ValidGenerator says whether the load generator sent on time: for every stream that sent,
// p99 send lag ≤ MaxSendLagP99. reason lists every stream that failed. Whether it sent at the
// asked rate is judged per phase from the figures (reports/verdict.RateShort).
func ValidGenerator(results []Result, streams []Stream) (ok bool, reason string) {
	lags := map[string][]float64{}
	for _, r := range results {
		lags[r.Stream] = append(lags[r.Stream], float64(r.Lag())/float64(time.Millisecond))
	}
	var reasons []string
	for _, st := range streams {
		got := lags[st.Name]
		if len(got) == 0 {
			continue
		}
		sort.Float64s(got)
		if p99 := percentile.Of(got, 99); p99 > float64(MaxSendLagP99)/float64(time.Millisecond) {
			reasons = append(reasons, fmt.Sprintf("stream %s p99 send lag %.1fms > %s", st.Name, p99, MaxSendLagP99))
		}
	}
	if len(reasons) > 0 {
		return false, "load generator fell behind: " + strings.Join(reasons, "; ")
	}
	return true, ""
}
