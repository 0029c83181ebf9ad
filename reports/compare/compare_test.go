package compare

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html/browsertest"
	"github.com/faultline/faultline/reports/rundir"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// mk builds a small run: one stream, three phases, a breaker, a fault from 10 s to 25 s.
func mk(profile string, faultP99, faultErr, openAfter float64) *reports.Results {
	f := func(phase string, p99, er float64) reports.PhaseFigure {
		p50 := p99 / 4
		return reports.PhaseFigure{Phase: phase, Requests: 500, Errors: int(er * 500), AchievedRate: 50, ErrorRate: er, P50Ms: p50, P99Ms: p99, MaxMs: p99 * 1.2,
			OKP50Ms: &p50, OKP99Ms: &p99}
	}
	res := &reports.Results{
		Scenario: "link-db-latency", Profile: profile, DurationS: 40, Verdict: reports.VerdictPass, ExpectedVerdict: reports.VerdictPass, AsExpected: true, Valid: true,
		Phases: []reports.PhaseWindow{{Name: "baseline", EndS: 10}, {Name: "fault", StartS: 10, EndS: 25}, {Name: "recovery", StartS: 25, EndS: 40}},
		Streams: []reports.StreamResult{{Name: "redirect", Phases: []reports.PhaseFigure{
			f("baseline", 7, 0), f("fault", faultP99, faultErr), f("recovery", 7.5, 0), f("all", faultP99, faultErr/3)}}},
		Faults:      []reports.FaultEvent{{Fault: "latency", Target: "link->link-db", AppliedAt: 10, HealedAt: 25}},
		BlastRadius: &reports.BlastRadius{UserImpact: map[string]float64{"redirect": faultErr}},
		Mechanisms: &reports.Mechanisms{
			Breakers:           []reports.BreakerSummary{{Edge: "redirect->link", Opened: true, OpenAfterS: &openAfter}},
			Retries:            map[string]int{"redirect->link": 40},
			BulkheadRejections: map[string]int{"redirect->link": 5},
			RateLimited:        map[string]int{"redirect": 7},
		},
	}
	if faultErr > 0.05 {
		res.Verdict, res.AsExpected = reports.VerdictFail, false
	}
	for s := 0; s < 40; s++ {
		p := 7.0
		if s >= 10 && s < 25 {
			p = faultP99
		}
		res.Timeseries = append(res.Timeseries, reports.TimeBucket{Stream: "redirect", T: float64(s), Requests: 50, P50Ms: p / 4, P99Ms: p, MaxMs: p * 1.2})
	}
	return res
}

func repeats() *Comparison {
	runs := []*reports.Results{
		mk("default", 200, 0.010, 2.4), mk("default", 210, 0.020, 2.6), mk("default", 205, 0.015, 2.5),
		mk("aggressive", 50, 0.012, 0.8), mk("aggressive", 55, 0.018, 0.9), mk("aggressive", 52, 0.020, 0.7),
		mk("none", 2000, 0.300, 0),
	}
	runs[6].Mechanisms = nil
	return Compare(runs, nil)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update after checking):\n%s", name, got)
	}
}

func TestMarkdownRepeatsGolden(t *testing.T) {
	var b bytes.Buffer
	if err := repeats().Markdown(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "repeats.md.golden", b.Bytes())
}

func TestMarkdownSweepGolden(t *testing.T) {
	var runs []*reports.Results
	var labels []string
	for i, v := range []string{"0.3", "0.5", "0.8"} {
		runs = append(runs, mk("default", 100+float64(i)*80, 0.01*float64(i+1), 1+float64(i)))
		labels = append(labels, "circuit_breaker.failure_ratio="+v)
	}
	c := Compare(runs, labels)
	if c.Sweep == nil || c.Sweep.Param != "circuit_breaker.failure_ratio" || len(c.Sweep.Values) != 3 || c.Sweep.Values[2] != 0.8 {
		t.Fatalf("sweep not detected: %+v", c.Sweep)
	}
	var b bytes.Buffer
	if err := c.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "sweep.md.golden", b.Bytes())
}

func TestCalls(t *testing.T) {
	c := repeats()
	tests := []struct {
		stream, phase, metric string
		rows                  []MetricRow
		call, winner          string
	}{
		{"redirect", "fault", MetricP99OK, c.Streams, CallBest, "aggressive"}, // 50–55 vs 200–210: apart
		{"redirect", "fault", "errors", c.Streams, CallNoise, ""},             // 1.0–2.0 % vs 1.2–2.0 %: overlap
		{"redirect", "baseline", MetricP99OK, c.Streams, CallTie, ""},         // identical
		{"redirect->link", "", "breaker open after fault start", c.Mechanisms, CallBest, "aggressive"},
		{"", "", "retries", c.Mechanisms, "", ""},                         // not ranked
		{"redirect", "fault", "user impact", c.UserImpact, CallNoise, ""}, // as errors
	}
	for _, tt := range tests {
		t.Run(tt.stream+" "+tt.phase+" "+tt.metric, func(t *testing.T) {
			r, ok := c.find(tt.rows, tt.stream, tt.phase, tt.metric)
			if !ok {
				t.Fatal("row missing")
			}
			if r.Call != tt.call {
				t.Errorf("call = %q, want %q (values %+v)", r.Call, tt.call, r.Values)
			}
			got := ""
			if r.Winner >= 0 {
				got = c.Groups[r.Winner].Label
			}
			if got != tt.winner {
				t.Errorf("winner = %q, want %q", got, tt.winner)
			}
		})
	}
	if r, _ := c.find(c.Streams, "redirect", "fault", MetricP99OK); r.Note != singleRunsNote {
		t.Errorf("a call involving the single 'none' run is not flagged: %q", r.Note)
	}
}

func TestJudge(t *testing.T) {
	st := func(vs ...float64) Stat { return Of(vs) }
	tests := []struct {
		name   string
		better int
		unit   string
		vals   []Stat
		call   string
		winner int
	}{
		{"apart, lower better", -1, UnitMs, []Stat{st(10, 11, 12), st(20, 21, 22)}, CallBest, 0},
		{"touching ranges are noise", -1, UnitMs, []Stat{st(10, 11, 20), st(20, 21, 22)}, CallNoise, -1},
		{"higher better", +1, UnitPerS, []Stat{st(40, 41), st(49, 50)}, CallBest, 1},
		// tournament 2026-12-03, slow-tail: every profile 100.1/s, hedged "best" by a request
		{"apart by less than the floor", +1, UnitPerS, []Stat{st(100.08, 100.09), st(100.11, 100.12)}, CallNoise, -1},
		{"single runs, clear lead", -1, UnitMs, []Stat{st(100), st(50)}, CallBest, 1},
		{"single runs, small lead", -1, UnitMs, []Stat{st(100), st(95)}, CallNoise, -1},
		{"single runs, below floor", -1, UnitMs, []Stat{st(0.4), st(0.1)}, CallNoise, -1},
		{"one group with data", -1, UnitMs, []Stat{st(1), st()}, "", -1},
		{"three groups, one overlaps", -1, UnitMs, []Stat{st(1, 2), st(10, 11), st(1.5, 3)}, CallNoise, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := MetricRow{Better: tt.better, Unit: tt.unit, Values: tt.vals, Winner: -1}
			judge(&r)
			if r.Call != tt.call || r.Winner != tt.winner {
				t.Errorf("got %q winner %d, want %q winner %d", r.Call, r.Winner, tt.call, tt.winner)
			}
		})
	}
}

func TestOf(t *testing.T) {
	s := Of([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if s.N != 8 || s.Mean != 5 || s.Min != 2 || s.Max != 9 || s.Std < 2.138 || s.Std > 2.139 {
		t.Errorf("Of = %+v", s)
	}
	if s := Of(nil); s.N != 0 {
		t.Errorf("Of(nil) = %+v", s)
	}
}

func TestDetectSweep(t *testing.T) {
	tests := []struct {
		labels []string
		sweep  bool
	}{
		{[]string{"a=1", "a=2"}, true},
		{[]string{"a=1", "b=2"}, false},
		{[]string{"a=1", "a=x"}, false},
		{[]string{"default", "aggressive"}, false},
		{[]string{"a=1"}, false},
		{[]string{"timeout=100ms", "timeout=1.5s"}, true},
		{[]string{"timeout=100ms", "timeout=2"}, false},
	}
	for _, tt := range tests {
		var gs []Group
		for _, l := range tt.labels {
			gs = append(gs, Group{Label: l})
		}
		if got := detectSweep(gs) != nil; got != tt.sweep {
			t.Errorf("detectSweep(%v) = %v, want %v", tt.labels, got, tt.sweep)
		}
	}
}

func TestHTMLAndBrowser(t *testing.T) {
	fix, err := rundir.Load("../html/testdata/run")
	if err != nil {
		t.Fatal(err)
	}
	runs := []*reports.Results{mk("default", 200, 0.01, 2.4), mk("aggressive", 50, 0.01, 0.8), fix.Results}
	c := Compare(runs, []string{"default", "aggressive", "fixture"}, nil, nil, fix.Samples)
	var b bytes.Buffer
	if err := c.HTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if refs := browsertest.ExternalRefs(page); len(refs) > 0 {
		t.Errorf("external references: %q", refs)
	}
	// One overlay per stream (redirect, create, stats) and the fixture's samples give
	// fault-phase distributions for its three streams.
	const wantCharts = 6
	if n := strings.Count(page, "<svg"); n != wantCharts {
		t.Errorf("%d charts, want %d", n, wantCharts)
	}
	for _, w := range []string{"aggressive", "★", "Winner rule", "breaker open after fault start", "pass ×1"} {
		if !strings.Contains(page, w) {
			t.Errorf("page misses %q", w)
		}
	}
	browsertest.Chromium(t)
	file := filepath.Join(t.TempDir(), "compare.html")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := browsertest.Open(t, file, "compare.png")
	if len(p.SVGs) != wantCharts {
		t.Errorf("browser sees %d charts, want %d", len(p.SVGs), wantCharts)
	}
	for i, s := range p.SVGs {
		if browsertest.DrawingElements(s) < 10 {
			t.Errorf("chart %d is empty", i)
		}
	}
	if len(p.Console) > 0 {
		t.Errorf("console: %q", p.Console)
	}
	if refs := browsertest.ExternalRefs(p.DOM); len(refs) > 0 {
		t.Errorf("DOM references outside the file: %q", refs)
	}
}

func TestSweepHTML(t *testing.T) {
	var runs []*reports.Results
	var labels []string
	for i, v := range []string{"0.3", "0.5", "0.8"} {
		for rep := 0; rep < 2; rep++ {
			runs = append(runs, mk("default", 100+float64(i)*80+float64(rep)*5, 0.01*float64(i+1), 1+float64(i)))
			labels = append(labels, "circuit_breaker.failure_ratio="+v)
		}
	}
	c := Compare(runs, labels)
	var b bytes.Buffer
	if err := c.HTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	// Two sweep charts and one overlay.
	if n := strings.Count(page, "<svg"); n != 3 {
		t.Errorf("%d charts, want 3", n)
	}
	for _, w := range []string{"Sweep of circuit_breaker.failure_ratio", "Fault-phase p99 of successful requests vs circuit_breaker.failure_ratio", "(n=2)", "best: circuit_breaker.failure_ratio=0.3"} {
		if !strings.Contains(page, w) {
			t.Errorf("page misses %q", w)
		}
	}
	if dir := os.Getenv("FAULTLINE_ARTIFACTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "sweep.html"), b.Bytes(), 0o644)
	}
}

// FuzzCompare compares two arbitrary results documents under two labels: no panic, and both
// renderings complete.
func FuzzCompare(f *testing.F) {
	a, _ := json.Marshal(mk("default", 200, 0.01, 2))
	b, _ := json.Marshal(mk("none", 2000, 0.3, 0))
	f.Add(a, b, "x=1", "x=2")
	f.Add([]byte(`{"streams":[{"name":"s","phases":[{"phase":"fault","requests":1,"p99_ms":1e308}]}]}`), []byte(`{}`), "", "")
	f.Fuzz(func(t *testing.T, ja, jb []byte, la, lb string) {
		var ra, rb reports.Results
		if json.Unmarshal(ja, &ra) != nil || json.Unmarshal(jb, &rb) != nil {
			return
		}
		c := Compare([]*reports.Results{&ra, &rb}, []string{la, lb})
		var md, page bytes.Buffer
		if err := c.Markdown(&md); err != nil {
			t.Fatal(err)
		}
		if err := c.HTML(&page); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(page.String(), "</html>") {
			t.Fatal("page cut short")
		}
	})
}

// The example: under a sweep of timeout, the value whose creations failed 97.5 % of
// the time answered its failures in 0.71 ms (p50 over every request) and was called "best";
// latency rows now rank successful requests only, from the samples when the run recorded no
// ok_p50_ms (an older results.json).
func TestFastFailuresNeverBestLatency(t *testing.T) {
	run := func(label string, okMs, failMs float64, failed int) (*reports.Results, []rundir.Sample) {
		res := &reports.Results{Scenario: "s", Profile: "default", DurationS: 30, Valid: true,
			Phases: []reports.PhaseWindow{{Name: "fault", StartS: 0, EndS: 20}}}
		var ss []rundir.Sample
		for i := range 200 {
			s := rundir.Sample{Stream: "create", Phase: "fault", ScheduledS: float64(i) / 10, LatencyMs: okMs, Code: 201}
			if i < failed {
				s.LatencyMs, s.Code, s.Error = failMs, 503, "503 Service Unavailable"
			}
			ss = append(ss, s)
		}
		// The recorded percentiles over every request, as results.json had them.
		res.Streams = []reports.StreamResult{{Name: "create", Phases: []reports.PhaseFigure{{Phase: "fault", Requests: 200,
			Errors: failed, AchievedRate: 10, ErrorRate: float64(failed) / 200, P50Ms: failMs, P99Ms: okMs}}}}
		if failed < 100 {
			res.Streams[0].Phases[0].P50Ms = okMs
		}
		return res, ss
	}
	fast, fastS := run("timeout=1s", 900, 0.71, 195) // 97.5 % failed, in 0.71 ms
	slow, slowS := run("timeout=5s", 40, 0, 0)
	c := Compare([]*reports.Results{fast, slow}, []string{"timeout=1s", "timeout=5s"}, fastS, slowS)
	for _, h := range c.Highlights() {
		if strings.Contains(h, "p50") && strings.Contains(h, "timeout=1s best") {
			t.Errorf("a latency of failed requests made the failing value best: %s", h)
		}
	}
	r, ok := c.find(c.Streams, "create", "fault", MetricP50OK)
	if !ok {
		t.Fatal("no p50 ok row")
	}
	if got := r.Values[0].Mean; got != 900 {
		t.Errorf("timeout=1s p50 ok = %v, want 900 (its successful requests only)", got)
	}
	if r.Winner != 1 {
		t.Errorf("p50 ok winner = %d, want timeout=5s", r.Winner)
	}
	// Nothing succeeded: no latency at all, never best.
	none, noneS := run("timeout=10ms", 0, 0.5, 200)
	c = Compare([]*reports.Results{none, slow}, []string{"timeout=10ms", "timeout=5s"}, noneS, slowS)
	if r, _ := c.find(c.Streams, "create", "fault", MetricP99OK); r.Values[0].N != 0 || r.Winner == 0 {
		t.Errorf("a run with no success has a latency: %+v", r)
	}
}
