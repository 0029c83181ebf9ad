package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios"
)

func watchScenario(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse("watch.yaml", []byte(`name: watch
duration: 6s
load: [{name: ping, request: GET /ping, rate: 50}]
faults:
  - {at: 1s, for: 4s, pause: link}
slos: [{load: ping, thresholds: ["errors<1%"]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func fakeStart(url string) func(context.Context, lab.Options) (System, error) {
	sys := &fakeSystem{url: url}
	return func(context.Context, lab.Options) (System, error) { return sys, nil }
}

// TestHaltFromTheWatch: a HALT pressed on the live view while a scheduled fault is on stops
// the load at once, heals the fault, and the run is halted and invalid: never a pass, though
// every request of the fake system succeeded. The view saw the load and the fault come and go.
func TestHaltFromTheWatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	var samples atomic.Int64
	var mu sync.Mutex
	var changes []FaultChange
	stopped := false
	watch := func(sys System, w *Watch) (func(), error) {
		w.OnSample = func(reports.Sample) { samples.Add(1) }
		w.OnFault = func(c FaultChange) {
			mu.Lock()
			changes = append(changes, c)
			mu.Unlock()
			if c.Applied {
				time.AfterFunc(500*time.Millisecond, func() { w.Halt("ana (console)") })
			}
		}
		return func() { stopped = true }, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Scenario: watchScenario(t), OutDir: t.TempDir(), Settle: 200 * time.Millisecond, Log: testLog{t},
		Start: fakeStart(srv.URL), Watch: watch})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != reports.VerdictHalted || res.Valid || res.AsExpected || res.Halt == nil {
		t.Fatalf("verdict %s valid %v as expected %v halt %+v: want halted, invalid, not as expected", res.Verdict, res.Valid, res.AsExpected, res.Halt)
	}
	if res.Halt.By != "ana (console)" || res.Halt.AtS < 1.4 || res.Halt.AtS > 2.5 {
		t.Errorf("halt %+v: want by ana at about 1.5 s", res.Halt)
	}
	if res.DurationS > 3 {
		t.Errorf("the load ran %.1fs of 6 s: a halt must stop it", res.DurationS)
	}
	if f := res.Faults[0]; f.HealedAt < 0 || f.HealedAt > res.Halt.AtS+1 {
		t.Errorf("fault %+v: want healed within 1 s of the halt at %.2fs", f, res.Halt.AtS)
	}
	if !strings.Contains(strings.Join(res.Reasons, ";"), "halted at") {
		t.Errorf("reasons %q do not say halted", res.Reasons)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || !changes[0].Applied || changes[0].Heal == nil || changes[1].Applied {
		t.Errorf("fault changes %+v: want the apply (with its heal) then the heal", changes)
	}
	if samples.Load() < 40 {
		t.Errorf("the view saw %d samples, want the load's", samples.Load())
	}
	if !stopped {
		t.Error("the view was not stopped")
	}
}

// TestWatchHealAndInterventions: a heal pressed on the view heals the scheduled fault once (the
// schedule's heal then does nothing), and what the view reports as done from outside the
// scenario makes the run invalid.
func TestWatchHealAndInterventions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	var mu sync.Mutex
	var healErr error
	heals := 0
	watch := func(sys System, w *Watch) (func(), error) {
		w.OnFault = func(c FaultChange) {
			if c.Applied {
				time.AfterFunc(300*time.Millisecond, func() {
					err := c.Heal(context.Background())
					mu.Lock()
					healErr = err
					mu.Unlock()
				})
				return
			}
			mu.Lock()
			heals++
			mu.Unlock()
		}
		w.Interventions = func() []string { return []string{"fault pause on link healed by bo (console) at 1.3s"} }
		return func() {}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Scenario: watchScenario(t), OutDir: t.TempDir(), Settle: 200 * time.Millisecond, Log: testLog{t},
		Start: fakeStart(srv.URL), Watch: watch})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if healErr != nil || heals != 1 {
		t.Errorf("heal error %v, %d heals: want one", healErr, heals)
	}
	if f := res.Faults[0]; f.HealedAt < 1.2 || f.HealedAt > 2 {
		t.Errorf("fault healed at %.2fs, want by the view at about 1.3 s", f.HealedAt)
	}
	if res.Valid || res.Verdict == reports.VerdictPass || !strings.Contains(strings.Join(res.InvalidReasons, ";"), "healed by bo") {
		t.Errorf("valid %v verdict %s invalid %q: want invalid, not a pass, saying why", res.Valid, res.Verdict, res.InvalidReasons)
	}
}
