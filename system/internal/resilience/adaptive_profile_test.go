package resilience

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/httpx"
)

// The adaptive profile's throttler on gateway->link must throttle while link sheds most
// creations, and forget it within its 2 s thresholding period once link is healthy again:
// with the first version (failure_rate_threshold 0.2 over 10 s) it kept refusing 50-70 % of
// creations for the whole 10 s recovery of surge-adaptive (53 % errors, measured 2026-12-02).
// The breaker is left out: it is the breaker's job, not the throttler's, to stop calls to a
// callee failing half of them.
func TestAdaptiveGatewayLinkThrottlerForgetsASurge(t *testing.T) {
	prof, err := Load("adaptive")
	if err != nil {
		t.Fatal(err)
	}
	ep := prof.Edge("gateway->link")
	if ep.AdaptiveThrottler == nil {
		t.Fatal("adaptive's gateway->link has no throttler")
	}
	ep.CircuitBreaker, ep.AdaptiveLimiter = nil, nil
	tel := newTelemetry(t)
	up := newUpstream(t, http.StatusCreated)
	p := NewHTTP("gateway->link", ep, tel, nil)
	c := httpx.NewClient(tel, "gateway->link", "link", time.Second)

	// The surge: link sheds three creations in four (503) for 3 s.
	const forget = 2200 * time.Millisecond // what surge-adaptive's 10 s recovery can afford
	surge, throttled := 0, 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); surge++ {
		if surge%4 == 0 {
			up.status.Store(http.StatusCreated)
		} else {
			up.status.Store(http.StatusServiceUnavailable)
		}
		if _, err := call(p, c, up.URL); errors.Is(err, ErrThrottled) {
			throttled++
		}
		time.Sleep(2 * time.Millisecond)
	}
	if throttled == 0 {
		t.Fatalf("no call throttled in %d with link refusing 3 in 4: the throttler never engaged", surge)
	}

	// Healthy again, with creations still arriving (as in the scenario's recovery): 2.2 s later
	// nothing may be refused. The calls must keep coming: failsafe-go's throttler forgets old
	// results only when it records a new one (its window expires buckets on record, not on
	// read), so the first call after an idle spell is judged on the stale window.
	up.status.Store(http.StatusCreated)
	for end := time.Now().Add(forget); time.Now().Before(end); {
		_, _ = call(p, c, up.URL)
		time.Sleep(2 * time.Millisecond)
	}
	for i := range 100 {
		if _, err := call(p, c, up.URL); errors.Is(err, ErrThrottled) {
			t.Fatalf("call %d throttled %s after the surge ended (thresholding_period %s): the throttler still remembers it",
				i, forget, ep.AdaptiveThrottler.ThresholdingPeriod.D())
		}
	}
	t.Logf("surge: %d of %d throttled; none %s after it", throttled, surge, forget)
}
