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

// fakeSystem answers every request with 200 and pauses and resumes components as slowly as
// told.
type fakeSystem struct {
	url           string
	pause, resume map[string]time.Duration // component → how long it takes
}

func (f *fakeSystem) Gateway() string             { return f.url }
func (f *fakeSystem) Direct(string) string        { return f.url }
func (f *fakeSystem) Env() toxics.Env             { return f }
func (f *fakeSystem) Close(context.Context) error { return nil }
func (f *fakeSystem) Proxy(string) (*toxiclient.Proxy, error) {
	return nil, errors.New("fake: no proxies")
}
func (f *fakeSystem) Component(name string) (toxics.Controller, error) {
	return fakeComponent{pause: f.pause[name], resume: f.resume[name]}, nil
}

type fakeComponent struct{ pause, resume time.Duration }

func (fakeComponent) Kill(context.Context) error     { return nil }
func (fakeComponent) Start(context.Context) error    { return nil }
func (c fakeComponent) Pause(context.Context) error  { time.Sleep(c.pause); return nil }
func (c fakeComponent) Resume(context.Context) error { time.Sleep(c.resume); return nil }
func (fakeComponent) Running() bool                  { return true }

// TestRunCutsPhasesFromActualTimes runs a scenario end to end on a fake system (issue point
// 6). The first fault's heal takes 800 ms: the fault phase must last until it completed, not
// end at the plan. The quiet gap before the second fault must not count as fault phase. The
// second fault's apply takes 800 ms: its phase starts when the apply began (it may act from
// then on). Both are late, so the measurement is invalid and never passes.
func TestRunCutsPhasesFromActualTimes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	sys := &fakeSystem{url: srv.URL,
		pause:  map[string]time.Duration{"redis": 800 * time.Millisecond},
		resume: map[string]time.Duration{"link": 800 * time.Millisecond}}
	sc, err := scenarios.Parse("late.yaml", []byte(`name: late
duration: 5s
load: [{name: ping, request: GET /ping, rate: 50}]
faults:
  - {at: 1s, for: 1s, pause: link}
  - {at: 3.5s, for: 1s, pause: redis}
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
	between := reports.Windows(res.Phases, reports.PhaseBetween)
	if len(faults) != 2 || len(between) != 1 {
		t.Fatalf("fault windows %v, between %v: want two faults around one quiet gap", faults, between)
	}
	if f := faults[0]; f.StartS < 0.95 || f.StartS > 1.2 || f.EndS < 2.75 {
		t.Errorf("first fault phase %.2f-%.2fs, want from 1 s to its heal at about 2.8 s", f.StartS, f.EndS)
	}
	if f := faults[1]; f.StartS < 3.45 || f.StartS > 3.7 {
		t.Errorf("second fault phase starts at %.2fs, want when its apply began, about 3.5 s", f.StartS)
	}
	reasons := strings.Join(res.InvalidReasons, "\n")
	for _, want := range []string{"fault pause on link healed at 2.", "planned at 2.00s", "fault pause on redis applied at 4.", "planned at 3.50s"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("invalid reasons %q: want %q", res.InvalidReasons, want)
		}
	}
	if res.Valid || res.Verdict == reports.VerdictPass {
		t.Errorf("valid %v, verdict %s: a run whose faults came late must be invalid and never pass", res.Valid, res.Verdict)
	}
}
