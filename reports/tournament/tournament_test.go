package tournament

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/compare"
	"github.com/faultline/faultline/reports/rundir"
)

// recorded builds one run of a 30 s scenario (fault 10–20 s) at 10 requests/s: failFrom..failTo
// are the seconds whose requests fail (fast, 1 ms), okMs the latency of the others.
func recorded(profile string, repeat int, okMs float64, failFrom, failTo int, attempts int) Run {
	res := &reports.Results{Scenario: "brownout", Profile: profile, DurationS: 30, Valid: true, Verdict: reports.VerdictPass,
		Phases: []reports.PhaseWindow{{Name: "baseline", EndS: 10}, {Name: "fault", StartS: 10, EndS: 20}, {Name: "recovery", StartS: 20, EndS: 30}},
		Faults: []reports.FaultEvent{{Fault: "latency", Target: "link->link-db", AppliedAt: 10, HealedAt: 20}},
		SLOs: []reports.SLOResult{{Stream: "create", Phase: "fault", Threshold: "errors<5%"}, {Stream: "create", Phase: "recovery", Threshold: "errors<5%"},
			{Stream: "create", Phase: "baseline", Threshold: "errors<5%"}},
		Mechanisms:  &reports.Mechanisms{FaultAttempts: map[string]int{"gateway->link": attempts, "link->link-db": attempts / 2}},
		BlastRadius: &reports.BlastRadius{UserImpact: map[string]float64{"create": float64(min(failTo, 20)-max(failFrom, 10)) / 10}},
		DataSafety:  &reports.DataSafety{},
	}
	var samples []rundir.Sample
	failedFault := 0
	for i := range 300 {
		at := float64(i) / 10
		s := rundir.Sample{Stream: "create", ScheduledS: at, LatencyMs: okMs, Code: 201}
		if int(at) >= failFrom && int(at) < failTo {
			s.LatencyMs, s.Code, s.Error = 1, 503, "503"
		}
		if at >= 10 && at < 20 && s.Code == 503 {
			failedFault++
		}
		samples = append(samples, s)
	}
	res.Streams = []reports.StreamResult{{Name: "create", Phases: []reports.PhaseFigure{{Phase: "fault", Requests: 100, Errors: failedFault,
		AchievedRate: 10, ErrorRate: float64(failedFault) / 100}}}}
	return Run{Scenario: "scenarios/drafts/brownout.yaml", Profile: profile, Repeat: repeat, Results: res, Samples: samples}
}

func find(t *testing.T, tb Table, metric string) compare.MetricRow {
	t.Helper()
	for _, r := range tb.Rows {
		if r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row %q", metric)
	return compare.MetricRow{}
}

func TestRankOnRecordedRuns(t *testing.T) {
	runs := []Run{
		// adaptive sheds 2 s of the fault and is back at the heal; default fails 6 s and
		// 3 s into recovery. default's failures are fast (1 ms): its p99 over every request
		// would look good, its p99 of successes is what counts.
		recorded("adaptive", 1, 30, 12, 14, 120), recorded("default", 1, 20, 14, 23, 300),
		recorded("adaptive", 2, 32, 12, 14, 125), recorded("default", 2, 21, 14, 23, 310),
		// An invalid run counts in nothing.
		func() Run {
			r := recorded("default", 3, 1, 0, 0, 1)
			r.Results.Valid, r.Results.InvalidReasons = false, []string{"send lag p99 40 ms"}
			return r
		}(),
	}
	rk := Rank([]string{"adaptive", "default"}, runs)
	if len(rk.Tables) != 1 {
		t.Fatalf("%d tables, want 1", len(rk.Tables))
	}
	tb := rk.Tables[0]
	if tb.Runs["default"] != 2 || len(tb.Excluded) != 1 || !strings.Contains(tb.Excluded[0], "invalid measurement") {
		t.Errorf("runs %v, excluded %v: the invalid run must be listed and not counted", tb.Runs, tb.Excluded)
	}
	for _, c := range []struct {
		metric string
		want   string // winner, "" for none
		mean0  float64
	}{
		{Goodput, "adaptive", 8},                              // 80 of 100 fault requests succeeded in 10 s
		{SLOSeconds, "adaptive", 2},                           // seconds 12 and 13
		{Recovery, "adaptive", 0},                             // held again from the heal on
		{Amplification + " gateway->link", "adaptive", 1.225}, // attempts on the edge ÷ 100 client requests
		{UserImpact, "adaptive", 0.2},                         //
		{DataLost, "", 0},                                     // both 0: a tie
		{okPrefix + "create", "default", 31},                  // successful requests only: default's 20 ms wins
	} {
		r := find(t, tb, c.metric)
		got := ""
		if r.Winner >= 0 {
			got = tb.Profiles[r.Winner]
		}
		if got != c.want {
			t.Errorf("%s: winner %q (%s), want %q; values %+v", c.metric, got, r.Call, c.want, r.Values)
		}
		if r.Values[0].Mean != c.mean0 {
			t.Errorf("%s: adaptive mean %v, want %v", c.metric, r.Values[0].Mean, c.mean0)
		}
	}
	if r := find(t, tb, Recovery); r.Values[1].Mean != 3 {
		t.Errorf("default recovered after %v s, want 3 (seconds 20-22 failed)", r.Values[1].Mean)
	}
	if r := find(t, tb, SLOSeconds); r.Values[1].Mean != 9 {
		t.Errorf("default SLO-seconds %v, want 9 (14-22)", r.Values[1].Mean)
	}
	if rk.Overall[0].Profile != "adaptive" || rk.Overall[0].Wins != 6 || rk.Overall[1].Wins != 1 {
		t.Errorf("overall %+v, want adaptive first with 6 wins (two edges' amplification), default 1", rk.Overall)
	}
	var md, page bytes.Buffer
	if err := rk.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := rk.HTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 1 | adaptive | 6 |", "## Scenario brownout", "best: adaptive", "not counted: default repeat 3"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown misses %q:\n%s", want, md.String())
		}
	}
	if !strings.Contains(page.String(), "<svg") || !strings.Contains(page.String(), "<strong>") {
		t.Error("HTML page has no overlaid chart or no marked winner")
	}
}

// Overlapping repeats are within noise, and a criterion with no value is never best.
func TestWithinNoiseAndNoData(t *testing.T) {
	runs := []Run{
		recorded("a", 1, 30, 12, 14, 100), recorded("b", 1, 30, 12, 15, 100),
		recorded("a", 2, 30, 12, 17, 100), recorded("b", 2, 30, 12, 15, 100),
	}
	for i := range runs {
		if runs[i].Profile == "b" {
			runs[i].Results.Mechanisms = nil // no spans: no amplification measured
		}
	}
	tb := Rank([]string{"a", "b"}, runs).Tables[0]
	if r := find(t, tb, Goodput); r.Call != compare.CallNoise {
		t.Errorf("goodput call %q, want within noise (a 5–8/s, b 7/s)", r.Call)
	}
	if r := find(t, tb, Amplification+" gateway->link"); r.Winner >= 0 || r.Values[1].N != 0 {
		t.Errorf("amplification without spans: %+v, want no value and no winner", r)
	}
}

// Every profile of one repeat gets the same seed; repeats get the next seeds.
func TestPlaySeeds(t *testing.T) {
	type call struct {
		profile string
		seed    int64
	}
	var calls []call
	run := func(_ context.Context, _, profile string, seed int64, _ string, _ io.Writer) (*reports.Results, error) {
		calls = append(calls, call{profile, seed})
		return &reports.Results{Scenario: "s", Valid: true}, nil
	}
	p := Plan{Profiles: []string{"a", "b"}, Scenarios: []string{"s.yaml"}, Repeat: 2, Seeds: map[string]int64{"s.yaml": 42}, Out: t.TempDir()}
	got, err := Play(context.Background(), p, run, nil, io.Discard)
	if err != nil || len(got) != 4 {
		t.Fatalf("%d runs, err %v", len(got), err)
	}
	want := []call{{"a", 42}, {"b", 42}, {"a", 43}, {"b", 43}}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("run %d = %+v, want %+v", i, calls[i], want[i])
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Play(ctx, p, run, nil, io.Discard); err == nil {
		t.Error("a cancelled tournament went on")
	}
}
