package html

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html/browsertest"
	"github.com/faultline/faultline/reports/rundir"
)

const fixtureDir = "testdata/run"

func loadFixture(t *testing.T) *rundir.Run {
	t.Helper()
	run, err := rundir.Load(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func render(t *testing.T, res *reports.Results, samples []rundir.Sample, scenario []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, res, samples, scenario); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var svgRe = regexp.MustCompile(`(?s)<svg\b.*?</svg>`)

// checkPage holds what every report page must satisfy, offline and in order.
func checkPage(t *testing.T, page string, wantCharts int) {
	t.Helper()
	if refs := browsertest.ExternalRefs(page); len(refs) > 0 {
		t.Errorf("page references outside itself: %q", refs)
	}
	svgs := svgRe.FindAllString(page, -1)
	if len(svgs) != wantCharts {
		t.Errorf("%d charts, want %d", len(svgs), wantCharts)
	}
	for i, s := range svgs {
		if n := browsertest.DrawingElements(s); n < 10 {
			t.Errorf("chart %d has %d drawing elements: %.200s", i, n, s)
		}
	}
	if strings.Contains(page, "chart unavailable") {
		t.Error("a chart failed to render")
	}
}

func TestRenderFixture(t *testing.T) {
	run := loadFixture(t)
	page := render(t, run.Results, run.Samples, run.Scenario)
	// 3 latency-over-time, throughput, 3 distributions, service map, mechanisms.
	checkPage(t, page, 9)
	ordered := []string{
		`class="banner fail"`, "Not as expected", `class="tile bad-tile"`, "×28.0 baseline", "1 of 2 opened", "no data lost", "SLO create errors&lt;5% in fault",
		`id="expectations"`, `id="slos"`, "p(99)&lt;50ms", `id="streams"`, `id="time"`, `id="distribution"`,
		"From every request in samples.csv", `id="faults"`, "jitter=50ms latency=400ms",
		`id="blast"`, "stopped at redirect by breaker", `id="mechanisms"`, "half-open</span> → <span class=\"state closed\"",
		`id="data"`, "checked 358, lost <strong>0</strong>", `id="scenario"`, "abort_when:",
	}
	at := 0
	for _, w := range ordered {
		i := strings.Index(page[at:], w)
		if i < 0 {
			t.Fatalf("missing %q after offset %d", w, at)
		}
		at += i
	}
	for _, w := range []string{"28.0%", "2.00 s", "@media print", "204 ms"} {
		if !strings.Contains(page, w) {
			t.Errorf("missing %q", w)
		}
	}
}

// TestRenderCPUWaits: the machine's saturation is on the page when the run measured it, in
// the data section, and absent otherwise.
func TestRenderCPUWaits(t *testing.T) {
	run := loadFixture(t)
	if page := render(t, run.Results, run.Samples, run.Scenario); strings.Contains(page, "CPU waits") {
		t.Fatal("a run without CPU waits shows the section")
	}
	run.Results.CPUWaits = []reports.CPUWait{{Service: "redirect", IntervalMs: 20, Intervals: 1050, LongestMs: 126.44, P99Ms: 61.2, StarvedPct: 3.33}}
	page := render(t, run.Results, run.Samples, run.Scenario)
	at := strings.Index(page, `id="data"`)
	if at < 0 {
		t.Fatal("no data section")
	}
	for _, w := range []string{"<h3>CPU waits</h3>", "read every 20 ms", "<td>redirect</td>", "126.4", "61.2", "3.3%"} {
		if !strings.Contains(page[at:], w) {
			t.Errorf("missing %q in the data section", w)
		}
	}
}

func TestRenderWithoutSamplesOrScenario(t *testing.T) {
	run := loadFixture(t)
	page := render(t, run.Results, nil, nil)
	checkPage(t, page, 9)
	for _, w := range []string{"samples.csv is missing", "scenario.yaml is missing"} {
		if !strings.Contains(page, w) {
			t.Errorf("missing %q", w)
		}
	}
}

func TestRenderMinimalResults(t *testing.T) {
	tests := []struct {
		name string
		res  *reports.Results
		want []string
	}{
		{"empty", &reports.Results{}, []string{`class="banner error"`, "No SLOs were declared", "No faults were injected"}},
		{"aborted", &reports.Results{Scenario: "x", Verdict: reports.VerdictAborted, Valid: true, Abort: &reports.Abort{Condition: "redirect errors>50% for 5s", AtS: 12}},
			[]string{`class="banner aborted"`, "Aborted at 12.0 s", "redirect errors&gt;50% for 5s"}},
		// A negative control that failed as expected is not a regression: its own banner.
		{"negative control", &reports.Results{Scenario: "x", Verdict: reports.VerdictFail, ExpectedVerdict: reports.VerdictFail, AsExpected: true, Valid: true},
			[]string{`class="banner xfail"`, `<div class="verdict">fail · as expected</div>`, "Negative control"}},
		{"regression", &reports.Results{Scenario: "x", Verdict: reports.VerdictFail, ExpectedVerdict: reports.VerdictPass, Valid: true},
			[]string{`class="banner fail"`, `<div class="verdict">fail</div>`, "Not as expected"}},
		{"halted", &reports.Results{Scenario: "x", Verdict: reports.VerdictHalted, ExpectedVerdict: reports.VerdictPass, Halt: &reports.Halt{By: "ana", AtS: 7.5, HealedInS: 0.2}},
			[]string{`class="banner halted"`, "Halted at 7.5 s by ana", "HALT pressed by ana"}},
		{"invalid pass", &reports.Results{Scenario: "x", Verdict: reports.VerdictPass, AsExpected: true, InvalidReasons: []string{"load generator fell behind"}},
			[]string{`class="banner error"`, "Measurement not trusted", "load generator fell behind"}},
		{"conformance", &reports.Results{Scenario: "x", Verdict: reports.VerdictFail, Valid: true, Conformance: &reports.Conformance{Profile: "default", Failed: 1, NoData: 1,
			Tolerances: []string{"upper time bounds: + 20ms"}, Checks: []reports.ConformanceCheck{
				{Target: "redirect->redis", Policy: "timeout", Configured: "50ms per attempt", Observed: "longest attempt 143.0ms", Status: reports.ConformanceFail, Examples: []string{"trace abc at 13.1s"}},
				{Target: "route:create", Policy: "rate_limit", Configured: "at most 500/s", Observed: "peak 20", Status: reports.ConformanceNoData, Reason: "not exercised"}}}},
			[]string{`id="conformance"`, "Policy conformance", "edge redirect-&gt;redis", "50ms per attempt", "longest attempt 143.0ms", "trace abc at 13.1s",
				`<span class="badge fail">fail</span>`, "route create", "no_data</span> not exercised", "Tolerances: upper time bounds"}},
		// A path that reached the entry point with no user impact is not an alarm; with impact it is.
		{"harmless propagation", &reports.Results{Scenario: "x", Verdict: reports.VerdictPass, Valid: true, AsExpected: true,
			BlastRadius: &reports.BlastRadius{UserImpact: map[string]float64{"redirect": 0},
				Propagation: []reports.PropagationPath{{Path: []string{"link", "gateway"}, Reached: true}}}},
			[]string{`<span class="badge neutral">reached the entry point · 0 % user impact</span>`}},
		{"harmful propagation", &reports.Results{Scenario: "x", Verdict: reports.VerdictFail, Valid: true,
			BlastRadius: &reports.BlastRadius{UserImpact: map[string]float64{"redirect": 0.2},
				Propagation: []reports.PropagationPath{{Path: []string{"link", "gateway"}, Reached: true}}}},
			[]string{`<span class="badge fail">reached the entry point</span>`}},
		{"game-day notes and who", &reports.Results{Scenario: "gameday", Verdict: reports.VerdictPass, Valid: true,
			Faults: []reports.FaultEvent{{Fault: "latency", Target: "gateway->redirect", AppliedAt: 4, HealedAt: 8, Who: "ana (console)"}},
			Notes:  []reports.Note{{AtS: 6.5, Who: "bo", Text: "p99 follows the toxic"}}},
			[]string{"Game-day notes", "p99 follows the toxic", "by ana (console)"}},
		{"script in names", &reports.Results{Scenario: "<script>alert(1)</script>", Verdict: reports.VerdictPass, Valid: true,
			Streams: []reports.StreamResult{{Name: `"><img src=http://x>`}}},
			[]string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := render(t, tt.res, nil, nil)
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("missing %q", w)
				}
			}
			if refs := browsertest.ExternalRefs(page); len(refs) > 0 {
				t.Errorf("external references: %q", refs)
			}
		})
	}
}

func TestExternalRefsDetects(t *testing.T) {
	tests := []struct {
		page string
		bad  bool
	}{
		{`<a href="#slos">x</a>`, false},
		{`<p>see https://example.com</p>`, false},
		{`<img src="https://cdn.example/x.png">`, true},
		{`<link rel="stylesheet" href="style.css">`, true},
		{`<script>1</script>`, true},
		{`<div style="background:url(http://x/y.png)">`, true},
		{`<image xlink:href="data:image/png;base64,AA"/>`, false},
		{`<svg xmlns="http://www.w3.org/2000/svg"></svg>`, false},
	}
	for _, tt := range tests {
		if got := len(browsertest.ExternalRefs(tt.page)) > 0; got != tt.bad {
			t.Errorf("ExternalRefs(%q) found=%v, want %v", tt.page, got, tt.bad)
		}
	}
}

func TestRenderDir(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{rundir.ResultsFile, rundir.ScenarioFile} { // no samples.csv: tolerated
		b, err := os.ReadFile(filepath.Join(fixtureDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RenderDir(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, string(b), 9)
	if err := RenderDir(t.TempDir()); err == nil {
		t.Error("RenderDir of an empty directory succeeded")
	}
}

func TestRenderDirCorruptSamples(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(fixtureDir, rundir.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.ResultsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.SamplesFile), []byte("stream,latency_ms\nredirect,\"12"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RenderDir(dir); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	if !strings.Contains(string(page), "samples.csv could not be read") {
		t.Error("the report does not say samples.csv was unreadable")
	}
	checkPage(t, string(page), 9)
}

func TestFormatters(t *testing.T) {
	tests := []struct{ got, want string }{
		{FormatMs(0.842), "0.84 ms"}, {FormatMs(12.34), "12.3 ms"}, {FormatMs(204.2), "204 ms"}, {FormatMs(2004.7), "2.00 s"},
		{FormatPct(0), "0%"}, {FormatPct(0.0005), "0.050%"}, {FormatPct(0.0133), "1.33%"}, {FormatPct(0.28), "28.0%"},
		{FormatNum(1999), "1,999"}, {FormatNum(48211), "48,211"}, {FormatNum(12.5), "12.5"}, {FormatNum(-1234567), "-1,234,567"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestBrowser opens the report in headless Chromium, offline, and keeps a screenshot.
func TestBrowser(t *testing.T) {
	browsertest.Chromium(t)
	dir := t.TempDir()
	run := loadFixture(t)
	page := render(t, run.Results, run.Samples, run.Scenario)
	file := filepath.Join(dir, rundir.ReportFile)
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	p := browsertest.Open(t, file, "report.png")
	if !strings.Contains(p.DOM, "link-db-latency") || !strings.Contains(p.DOM, "</footer>") {
		t.Fatalf("page did not load whole: %.300s", p.DOM)
	}
	if len(p.SVGs) != 9 {
		t.Errorf("browser sees %d charts, want 9", len(p.SVGs))
	}
	for i, s := range p.SVGs {
		if browsertest.DrawingElements(s) < 10 {
			t.Errorf("chart %d is empty in the browser", i)
		}
	}
	if len(p.Console) > 0 {
		t.Errorf("console messages: %q", p.Console)
	}
	if refs := browsertest.ExternalRefs(p.DOM); len(refs) > 0 {
		t.Errorf("DOM references outside the file: %q", refs)
	}
}

func BenchmarkRenderFixture(b *testing.B) {
	run, err := rundir.Load(fixtureDir)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := RenderRun(&buf, run); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}

// FuzzRender feeds arbitrary results.json documents to the renderer: whatever decodes must
// render without a panic, and a page always comes out.
func FuzzRender(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join(fixtureDir, rundir.ResultsFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"scenario":"x","duration_s":-5,"timeseries":[{"stream":"a","t":-1,"requests":3,"p99_ms":-2}]}`))
	f.Add([]byte(`{"faults":[{"applied_at":30,"healed_at":10}],"mechanisms":{"breaker_transitions":[{"edge":"a->a","to":"weird","at_s":1e300}]}}`))
	f.Add([]byte(`{"service_map":[{"from":"a","to":"b"},{"from":"b","to":"a"},{"from":"a","to":"a"}],"blast_radius":{"origin":["a"]}}`))
	// Once hung gonum's default ticker on an infinite axis span.
	f.Add([]byte(`{"streams":[{"name":"a","phases":[{"phase":"x","requests":1,"p50_ms":1e308,"p99_ms":-1e308,"max_ms":1e-320}]}]}`))
	f.Add([]byte(`{"duration_s":1e308,"timeseries":[{"stream":"a","t":-1e308,"requests":3,"p99_ms":1e308}]}`))
	f.Add([]byte(`{"slos":[{"stream":"a","phase":"fault","threshold":"p(99)<1e300ms","unit":"ms"}],"phases":[{"name":"fault","start_s":0,"end_s":1e308}],"timeseries":[{"stream":"a","t":1,"requests":1,"p99_ms":3}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var res reports.Results
		if json.Unmarshal(doc, &res) != nil {
			return
		}
		var b bytes.Buffer
		if err := Render(&b, &res, nil, nil); err != nil {
			t.Fatalf("render: %v", err)
		}
		if !strings.Contains(b.String(), "</html>") {
			t.Fatal("page cut short")
		}
	})
}
