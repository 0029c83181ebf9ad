package reports

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden* files")

func ptr(f float64) *float64 { return &f }

// sampleResults is a run with something in every section, one SLO failing.
func sampleResults() *Results {
	return &Results{
		Scenario: "link-db-latency", Description: "Postgres behind link answers 400 ms late.", File: "scenarios/link-db-latency.yaml",
		Profile: "default", Seed: 42, StartedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), DurationS: 60,
		Verdict: VerdictFail, ExpectedVerdict: VerdictPass, AsExpected: false,
		Reasons: []string{"SLO redirect fault p(99)<50ms: observed 61.20ms"},
		Valid:   true,
		Phases:  []PhaseWindow{{PhaseBaseline, 0, 20}, {PhaseFault, 20, 40}, {PhaseRecovery, 40, 60}},
		Streams: []StreamResult{{Name: "redirect", Request: "GET /r/{code}", Rate: 300, Phases: []PhaseFigure{
			{Phase: PhaseBaseline, Requests: 6000, AchievedRate: 300, P50Ms: 1.2, P90Ms: 2.1, P95Ms: 2.5, P99Ms: 4.8, MaxMs: 12, MeanMs: 1.4, SendLagP99Ms: 0.3, StatusCodes: map[string]int{"302": 6000}},
			{Phase: PhaseFault, Requests: 6000, Errors: 3, ErrorRate: 0.0005, AchievedRate: 300, P50Ms: 1.3, P90Ms: 20, P95Ms: 40, P99Ms: 61.2, MaxMs: 420, MeanMs: 5, SendLagP99Ms: 0.4, StatusCodes: map[string]int{"302": 5997, "503": 3}, ErrorSamples: []string{"503 Service Unavailable"}},
		}}},
		SLOs: []SLOResult{
			{Stream: "redirect", Phase: PhaseBaseline, Threshold: "p(99)<50ms", Value: 4.8, Unit: UnitMs, Pass: true},
			{Stream: "redirect", Phase: PhaseFault, Threshold: "p(99)<50ms", Value: 61.2, Unit: UnitMs},
			{Stream: "redirect", Phase: PhaseFault, Threshold: "errors<0.1%", Value: 0.0005, Unit: UnitRatio, Pass: true},
			{Stream: "redirect", Phase: PhaseRecovery, Threshold: "rate>=95/s", Unit: UnitPerS, NoData: true},
		},
		Faults: []FaultEvent{{Fault: "latency", Target: "link->link-db", Params: map[string]string{"latency": "400ms", "jitter": "50ms"}, AppliedAt: 20.01, HealedAt: 40.02}},
		DataSafety: &DataSafety{LinksAcked: 400, LinksChecked: 400, LinkEventsCounted: 400, ClicksAcked: 12000, ClicksCounted: 12000,
			DroppedClicks: map[string]int{"buffer_full": 0}, Settled: true},
		BlastRadius: &BlastRadius{Origins: []string{"link->link-db"}, AffectedServices: []string{"link"}, AffectedEdges: []string{"link->link-db"},
			UnprovenServices: []string{"billing"},
			Thresholds:       BlastThresholds{ErrorRateDelta: 0.05, LatencyFactor: 2, LatencyMinMs: 20, AbsErrorRate: 0.05, AbsLatencyMs: 250, MinBaselineCalls: 20, MinFaultCalls: 10},
			Services: []ServiceImpact{{Name: "billing", Kind: "service", Unproven: true}, {Name: "redirect->link", Kind: "edge", Absolute: true},
				{Name: "redirect", Kind: "service"}},
			UserImpact:  map[string]float64{"redirect": 0.0005},
			Propagation: []PropagationPath{{Path: []string{"link-db", "link", "redirect"}, StoppedAt: "redirect", StoppedBy: "cache"}}},
		Mechanisms: &Mechanisms{BreakerTransitions: []BreakerTransition{{Service: "redirect", Edge: "redirect->link", From: "closed", To: "open", AtS: 21.5}},
			Breakers:          []BreakerSummary{{Edge: "redirect->link", Opened: true, OpenAfterS: ptr(1.5)}},
			RetriesPerRequest: map[string]float64{"redirect->link": 0.045, "gateway->redirect": 0},
			MaxRetriesPerCall: map[string]int{"redirect->link": 3, "gateway->redirect": 0},
			RetryGaps:         map[string]RetryGap{"redirect->link": {Gaps: 12, MinMs: 0.2, MedianMs: 0.8}},
			Retries:           map[string]int{"redirect->link": 12}},
		Expectations: []Expectation{
			{What: "blast_radius.contained_to", Expected: "[link]", Observed: "[link]", Pass: true},
			{What: "data.lost_links", Expected: "0", Observed: "0", Pass: true},
		},
		Timeseries: []TimeBucket{{Stream: "redirect", T: 0, Requests: 300, P50Ms: 1, P99Ms: 4, MaxMs: 9}},
		CPUWaits: []CPUWait{{Service: "gateway", IntervalMs: 20, Intervals: 3000, LongestMs: 41.5, P99Ms: 12.2, StarvedPct: 0.4},
			{Service: "link", IntervalMs: 20, Intervals: 3000, LongestMs: 126.4, P99Ms: 38.9, StarvedPct: 2.1}},
	}
}

func TestMarkdownGolden(t *testing.T) {
	cases := map[string]*Results{"golden_summary.md": sampleResults()}
	aborted := sampleResults()
	aborted.Verdict, aborted.Valid, aborted.InvalidReasons = VerdictAborted, false, []string{"load generator fell behind"}
	aborted.Abort = &Abort{Condition: "redirect errors>50% for 5s", AtS: 31, HealedInS: 0.2}
	aborted.DataSafety, aborted.Faults, aborted.BlastRadius = nil, nil, nil
	cases["golden_summary_aborted.md"] = aborted
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteMarkdown(&buf, r); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name)
			if *updateGolden {
				os.WriteFile(path, buf.Bytes(), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("summary differs from %s:\n%s", path, buf.String())
			}
			first := strings.SplitN(buf.String(), "\n", 4)
			if !strings.HasPrefix(first[2], "**`"+strings.ToUpper(r.Verdict)+"`**") {
				t.Errorf("verdict is not first: %q", first[2])
			}
		})
	}
}

// xsd* mirror the JUnit XSD (Ant/Jenkins) element and attribute names; decoding checks the
// document's shape and the required attributes.
type xsdSuites struct {
	XMLName xml.Name   `xml:"testsuites"`
	Tests   *int       `xml:"tests,attr"`
	Suites  []xsdSuite `xml:"testsuite"`
}

type xsdSuite struct {
	Name      *string `xml:"name,attr"`
	Tests     *int    `xml:"tests,attr"`
	Failures  *int    `xml:"failures,attr"`
	Errors    *int    `xml:"errors,attr"`
	Skipped   *int    `xml:"skipped,attr"`
	Time      *string `xml:"time,attr"`
	Timestamp string  `xml:"timestamp,attr"`
	Props     []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	Cases []struct {
		Name      *string `xml:"name,attr"`
		Classname *string `xml:"classname,attr"`
		Time      *string `xml:"time,attr"`
		Failure   *struct {
			Message string `xml:"message,attr"`
		} `xml:"failure"`
		Error *struct {
			Message string `xml:"message,attr"`
		} `xml:"error"`
		Skipped *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
	} `xml:"testcase"`
}

func decodeJUnit(t *testing.T, r *Results) xsdSuite {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc xsdSuites
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, buf.String())
	}
	if len(doc.Suites) != 1 || doc.Tests == nil {
		t.Fatalf("want one testsuite in testsuites, got %d", len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Name == nil || s.Tests == nil || s.Failures == nil || s.Errors == nil || s.Skipped == nil || s.Time == nil {
		t.Fatal("testsuite lacks a required attribute")
	}
	if *s.Tests != len(s.Cases) || *doc.Tests != *s.Tests {
		t.Errorf("tests=%d but %d testcases", *s.Tests, len(s.Cases))
	}
	f, e, k := 0, 0, 0
	for _, c := range s.Cases {
		if c.Name == nil || c.Classname == nil || c.Time == nil {
			t.Fatal("testcase lacks name, classname or time")
		}
		if c.Failure != nil {
			f++
			if c.Failure.Message == "" {
				t.Error("failure without message")
			}
		}
		if c.Error != nil {
			e++
		}
		if c.Skipped != nil {
			k++
		}
	}
	if f != *s.Failures || e != *s.Errors || k != *s.Skipped {
		t.Errorf("counts: attributes %d/%d/%d, cases %d/%d/%d", *s.Failures, *s.Errors, *s.Skipped, f, e, k)
	}
	return s
}

func TestJUnit(t *testing.T) {
	r := sampleResults()
	s := decodeJUnit(t, r)
	// verdict + 4 SLOs + 2 expectations + 6 data checks
	if len(s.Cases) != 13 {
		t.Fatalf("got %d testcases, want 13", len(s.Cases))
	}
	failed := map[string]bool{}
	for _, c := range s.Cases {
		if c.Failure != nil {
			failed[*c.Name] = true
		}
	}
	// Each case says how long it measured: an SLO its phase, the verdict the run; never all "0".
	times := map[string]string{}
	for _, c := range s.Cases {
		times[*c.Name] = *c.Time
	}
	if times["redirect fault p(99)<50ms"] != "20.000" || times["verdict fail (expected pass)"] != "60.000" {
		t.Errorf("case times %v: want the fault SLO 20.000 (its phase), the verdict 60.000 (the run)", times)
	}
	want := map[string]bool{"verdict fail (expected pass)": true, "redirect fault p(99)<50ms": true, "redirect recovery rate>=95/s": true}
	if !reflect.DeepEqual(failed, want) {
		t.Errorf("failed cases: got %v, want %v (a no-data SLO must fail)", failed, want)
	}

	neg := sampleResults()
	neg.ExpectedVerdict, neg.AsExpected = VerdictFail, true
	s = decodeJUnit(t, neg)
	if *s.Failures != 0 || *s.Skipped != 2 {
		t.Errorf("negative control as expected: %d failures, %d skipped; want 0 and 2", *s.Failures, *s.Skipped)
	}

	bad := sampleResults()
	bad.Valid, bad.InvalidReasons, bad.DataSafety = false, []string{"lag"}, &DataSafety{LostLinks: 2, LinksAcked: 10, Settled: true, Error: "analytics unreachable"}
	bad.Scenario = `quote " and <angle> & amp`
	s = decodeJUnit(t, bad)
	if *s.Errors != 1 || *s.Name != bad.Scenario {
		t.Errorf("invalid run: %d errors, name %q", *s.Errors, *s.Name)
	}

	// Link events lost or applied twice are failures of their own, naming examples.
	events := sampleResults()
	events.DataSafety = &DataSafety{LinksAcked: 10, LinkEventsCounted: 9, LostLinkEvents: 2, LostLinkEventSamples: []string{"abc", "def"}, DuplicateLinkEvents: 1, Settled: true}
	s = decodeJUnit(t, events)
	got := map[string]string{}
	for _, c := range s.Cases {
		if c.Failure != nil {
			got[*c.Name] = c.Failure.Message
		}
	}
	if m := got["no lost link events"]; !strings.Contains(m, "2 of 10") || !strings.Contains(m, "abc, def") {
		t.Errorf("lost link events: failure %q, want 2 of 10 with examples", m)
	}
	if _, ok := got["no duplicate link events"]; !ok {
		t.Errorf("duplicate link events: no failing case in %v", got)
	}
}

func TestJSONFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	r := sampleResults()
	if err := WriteResults(path, r); err != nil {
		t.Fatal(err)
	}
	r.Verdict = VerdictPass // overwrite in place
	if err := WriteResults(path, r); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip changed the results:\n%+v\n%+v", got, r)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	raw, _ := os.ReadFile(path)
	for _, key := range []string{`"scenario"`, `"verdict"`, `"expected_verdict"`, `"as_expected"`, `"streams"`, `"slos"`, `"faults"`, `"data_safety"`, `"blast_radius"`, `"expectations"`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("results.json lacks %s", key)
		}
	}
	os.WriteFile(filepath.Join(dir, "junk.json"), []byte(`{"hello": 1}`), 0o644)
	if _, err := ReadResults(filepath.Join(dir, "junk.json")); err == nil {
		t.Error("a JSON file that is not results was accepted")
	}
	if err := WriteResults(filepath.Join(dir, "missing", "results.json"), r); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// TestNothingToCheckRenders: a data line with nothing to check is neither a pass nor a
// failure in JUnit (skipped, saying why) and reads n/a in Markdown.
func TestNothingToCheckRenders(t *testing.T) {
	r := sampleResults()
	r.DataSafety = &DataSafety{Settled: true, DroppedClicks: map[string]int{}}
	r.Expectations = []Expectation{{What: "data.lost_links", Expected: "<= 0", Observed: "nothing to check: no link creation was acknowledged", Pass: true, NotApplicable: true}}
	s := decodeJUnit(t, r)
	skipped := map[string]string{}
	for _, c := range s.Cases {
		if c.Skipped != nil {
			skipped[*c.Name] = c.Skipped.Message
		}
	}
	for _, name := range []string{"data.lost_links", "no lost links", "no missing clicks", "no duplicate clicks", "no lost link events", "no duplicate link events"} {
		if m, ok := skipped[name]; !ok || !strings.Contains(m, "nothing to check") {
			t.Errorf("%s: skipped %q, want skipped with nothing to check (%v)", name, m, skipped)
		}
	}
	if _, ok := skipped["analytics settled"]; ok {
		t.Error("analytics settled is always checked")
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| data.lost_links | <= 0 | nothing to check: no link creation was acknowledged | n/a |") ||
		!strings.Contains(md.String(), "| no missing clicks | n/a | nothing to check") {
		t.Errorf("markdown lacks the n/a lines:\n%s", md.String())
	}
}
