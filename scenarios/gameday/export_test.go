package gameday

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios"
)

func day() Record {
	return Record{
		Version: 1, StartedAt: time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC), DurationS: 95, Profile: "default", Seed: 7,
		Streams: []StreamRecord{
			{Name: "redirect", Request: "GET /r/{code}", Changes: []RateChange{{AtS: 5, Rate: 100}, {AtS: 45, Rate: 200}}},
			{Name: "create", Request: "POST /api/links", Changes: []RateChange{{AtS: 20, Rate: 10}, {AtS: 60, Rate: 0}}},
		},
		SLOs: []SLOSpec{{Load: "redirect", Thresholds: []string{"p(99)<200ms", "errors<1%"}}},
		Faults: []reports.FaultEvent{
			{Fault: "latency", Target: "redirect->link", Params: map[string]string{"latency": "100ms", "toxicity": "1"}, AppliedAt: 15, HealedAt: 35, Who: "ana (console)"},
			{Fault: "latency", Target: "redirect->link", Params: map[string]string{"latency": "5ms"}, AppliedAt: 30, HealedAt: 40, Who: "bo (cli)"},
			{Fault: "crash", Target: "analytics", Params: map[string]string{"restart_after": "5s"}, AppliedAt: 50, HealedAt: 55.5},
			{Fault: "pause", Target: "billing", AppliedAt: 1, HealedAt: 3},
		},
		Notes: []reports.Note{{AtS: 17, Who: "cy", Text: "redirect p99\nup"}},
	}
}

// TestExportIsAValidReplay: the exported scenario passes the scenario parser and validation
// (what `faultline validate` runs) and says what the day did, on the replay's clock.
func TestExportIsAValidReplay(t *testing.T) {
	b, err := Export(day())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "replay.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.ParseFile(path)
	if err != nil {
		t.Fatalf("export does not validate: %v\n%s", err, b)
	}
	if got, want := sc.Duration.D(), 90*time.Second; got != want {
		t.Errorf("duration %s, want %s (from the first stream start at 5s to the day's end at 95s)", got, want)
	}
	if len(sc.Load) != 2 || len(sc.Load[0].Stages) != 2 || len(sc.Load[1].Stages) != 3 {
		t.Fatalf("load %+v: want redirect in 2 stages, create in 3 (0/s until 15s, 10/s, 0/s)", sc.Load)
	}
	if sc.Load[1].Stages[0].Rate != 0 || sc.Load[1].Stages[0].For.D() != 15*time.Second {
		t.Errorf("create starts with %+v, want 0/s for 15s", sc.Load[1].Stages[0])
	}
	if len(sc.Faults) != 2 {
		t.Fatalf("faults %+v: want the first latency and the crash (the overlapping latency and the pause before the load left out)", sc.Faults)
	}
	if f := sc.Faults[0]; f.Start() != 10*time.Second || f.End() != 30*time.Second || f.Target() != "redirect->link" {
		t.Errorf("fault 0 %+v at %s-%s, want redirect->link 10s-30s", f, f.Start(), f.End())
	}
	if f := sc.Faults[1]; f.Fault != "crash" || f.Start() != 45*time.Second || f.End() != 50500*time.Millisecond {
		t.Errorf("fault 1 %+v at %s-%s, want crash 45s-50.5s", f, f.Start(), f.End())
	}
	if len(sc.SLOs) != 1 || sc.SLOs[0].Load != "redirect" || len(sc.SLOs[0].Thresholds) != 2 {
		t.Errorf("slos %+v", sc.SLOs)
	}
	for _, want := range []string{"overlapped another fault", "ended before the load started", "injected by ana (console)", "12.0s cy: redirect p99 up"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("export lacks %q:\n%s", want, b)
		}
	}
}

func TestExportRefuses(t *testing.T) {
	rec := day()
	rec.Streams = nil
	if _, err := Export(rec); !errors.Is(err, ErrNothingToReplay) {
		t.Errorf("no load: %v", err)
	}
	rec = day()
	rec.DurationS = 4000
	rec.Streams[0].Changes = []RateChange{{AtS: 0, Rate: 5}}
	if _, err := Export(rec); err == nil || !strings.Contains(err.Error(), "at most 1h") {
		t.Errorf("a day longer than a scenario: %v", err)
	}
}

// A hand-made fault on a share of connections (toxicity < 1) is left out of the replay with
// the reason: the scenario format refuses it, since pooled connections make it land on every
// call or on none.
func TestExportLeavesOutToxicityShare(t *testing.T) {
	rec := day()
	rec.Faults[0].Params["toxicity"] = "0.5"
	b, err := Export(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "# left out: latency on redirect->link at 15.0s: toxicity 0.5 is a share of connections") {
		t.Errorf("the toxicity 0.5 fault is not left out with its reason:\n%s", b)
	}
	if _, err := scenarios.Parse("replay.yaml", b); err != nil {
		t.Errorf("export does not validate: %v", err)
	}
}
