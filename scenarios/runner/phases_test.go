package runner

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/toxics"
)

// fakeSystem answers every request with 200 and pauses components as slowly as told.
type fakeSystem struct {
	url   string
	pause map[string]time.Duration // component → how long its pause takes
}

func (f *fakeSystem) Gateway() string             { return f.url }
func (f *fakeSystem) Direct(string) string        { return f.url }
func (f *fakeSystem) Env() toxics.Env             { return f }
func (f *fakeSystem) Close(context.Context) error { return nil }
func (f *fakeSystem) Proxy(string) (*toxiclient.Proxy, error) {
	return nil, errors.New("fake: no proxies")
}
func (f *fakeSystem) Component(name string) (toxics.Controller, error) {
	return fakeComponent{took: f.pause[name]}, nil
}

type fakeComponent struct{ took time.Duration }

func (fakeComponent) Kill(context.Context) error    { return nil }
func (fakeComponent) Start(context.Context) error   { return nil }
func (c fakeComponent) Pause(context.Context) error { time.Sleep(c.took); return nil }
func (fakeComponent) Resume(context.Context) error  { return nil }
func (fakeComponent) Running() bool                 { return true }

// TestRunCutsPhasesFromActualTimes runs a scenario end to end on a fake system whose first
// fault takes 800 ms to apply (issue point 6). The fault phase must start when the fault
// took effect, not when it was planned; the quiet second between the two faults must not
// count as fault phase; and the late apply makes the measurement invalid, so it never passes.
func TestRunCutsPhasesFromActualTimes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	sys := &fakeSystem{url: srv.URL, pause: map[string]time.Duration{"link": 800 * time.Millisecond}}
	sc, err := scenarios.Parse("late.yaml", []byte(`name: late
duration: 4s
load: [{name: ping, request: GET /ping, rate: 50}]
faults:
  - {at: 1s, for: 1s, pause: link}
  - {at: 3s, for: 500ms, pause: redis}
slos: [{load: ping, phases: [fault], thresholds: ["errors<1%"]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Scenario: sc, OutDir: t.TempDir(), Settle: 200 * time.Millisecond, Log: testLog{t},
		Start: func(context.Context, lab.Options) (System, error) { return sys, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("phases %v", res.Phases)
	faults := reports.Windows(res.Phases, reports.PhaseFault)
	if len(faults) != 2 {
		t.Fatalf("fault windows %v, want two (one per fault)", faults)
	}
	if faults[0].StartS < 1.75 {
		t.Errorf("fault phase starts at %.2fs, but the fault took effect at %.2fs", faults[0].StartS, res.Faults[0].AppliedAt)
	}
	if between := reports.Windows(res.Phases, reports.PhaseBetween); len(between) != 1 || between[0].StartS < 1.95 || between[0].EndS > 3.1 {
		t.Errorf("between windows %v, want the quiet gap from about 2 s to 3 s", between)
	}
	if res.Valid || !containsAll(strings.Join(res.InvalidReasons, "\n"), "fault pause on link applied at 1.", "planned at 1.00s") {
		t.Errorf("valid %v, invalid reasons %q: want the late apply named with its planned and actual time", res.Valid, res.InvalidReasons)
	}
	if res.Verdict == reports.VerdictPass {
		t.Errorf("a run whose fault came late passed (reasons %v)", res.Reasons)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
