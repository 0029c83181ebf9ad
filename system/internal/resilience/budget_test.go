package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// When a retry budget acts in failsafe-go v0.9.8, pinned on the adaptive profile's
// redirect->link budget (max_rate 0.2, min_concurrency 3), because
// scenarios/retry-budget.yaml's design (few poisoned keys, many lookups) rests on it. The budget
// counts, as "executions", every call in flight through the retry policy (in an attempt or in a
// backoff) plus every retry in flight; a retry is refused once at least min_concurrency retries
// are in flight and retries ÷ executions is above max_rate. So at max_rate 0.2 it admits retries
// while they are at most a quarter of the calls in flight, and it is checked after the
// backoff: a refused retry has already waited its delay. A refused call ends with ErrBudget,
// which leaves the executions, so every later retry of the same burst is refused too.
func TestBudgetAdmitsRetriesUpToAQuarterOfCallsInFlight(t *testing.T) {
	prof, err := Load("adaptive")
	if err != nil {
		t.Fatal(err)
	}
	ep := prof.Edge("redirect->link")
	if ep.Budget == nil || ep.Retry == nil {
		t.Fatal("adaptive's redirect->link has no retry budget")
	}
	// Retry and budget only: the breaker, throttler and limiter refuse for reasons of their own.
	ep = EdgePolicy{Retry: ep.Retry, Budget: ep.Budget}
	minBackoff := time.Duration(float64(ep.Retry.Backoff.D()) * (1 - float64(ep.Retry.Jitter)))
	class := Classifier[int]{
		Failure:   func(_ int, err error) bool { return err != nil },
		Retryable: func(_ int, err error) bool { return err != nil },
	}
	errFirst := errors.New("first attempt failed")
	for _, tc := range []struct {
		calls, admitted int
	}{
		{calls: 8, admitted: 3},   // min_concurrency: 3/11 = 0.27 would be over 0.2
		{calls: 20, admitted: 6},  // admitted while k/(20+k) <= 0.2, k = 0..5
		{calls: 40, admitted: 11}, // k = 0..10
	} {
		t.Run(fmt.Sprintf("%d calls", tc.calls), func(t *testing.T) {
			e := NewExecutor("redirect->link", ep, class, newTelemetry(t), nil)
			// Every first attempt fails only once all calls are in flight; every admitted retry
			// holds its permit until the test releases it.
			var arrived, done sync.WaitGroup
			arrived.Add(tc.calls)
			release := make(chan struct{})
			var admitted, refused, early atomic.Int32
			for range tc.calls {
				done.Add(1)
				go func() {
					defer done.Done()
					start := time.Now()
					_, err := e.Get(context.Background(), func(ctx context.Context) (int, error) {
						if telemetry.AttemptFrom(ctx) == 1 {
							arrived.Done()
							arrived.Wait()
							return 0, errFirst
						}
						admitted.Add(1)
						<-release
						return 1, nil
					}, nil)
					if errors.Is(err, ErrBudget) {
						refused.Add(1)
						if time.Since(start) < minBackoff {
							early.Add(1)
						}
					}
				}()
			}
			// The refusals come back on their own; the admitted retries wait for release.
			deadline := time.Now().Add(5 * time.Second)
			for int(admitted.Load()+refused.Load()) < tc.calls && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			got, gotRefused := int(admitted.Load()), int(refused.Load())
			close(release)
			done.Wait()
			if got != tc.admitted || gotRefused != tc.calls-tc.admitted {
				t.Fatalf("%d calls failed at once: %d retries admitted, %d refused; want %d admitted (max_rate %g, min_concurrency %d), %d refused",
					tc.calls, got, gotRefused, tc.admitted, float64(ep.Budget.MaxRate), ep.Budget.MinConcurrency, tc.calls-tc.admitted)
			}
			if n := early.Load(); n > 0 {
				t.Errorf("%d refused calls ended before the shortest backoff %s: want the budget checked after the delay", n, minBackoff)
			}
		})
	}
}
