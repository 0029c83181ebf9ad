package rundir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
)

// fixtureDir is the report fixtures' run directory.
const fixtureDir = "../html/testdata/run"

func TestReadSamples(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Sample
		wantErr bool
	}{
		{"empty", "", nil, false},
		{"header only", "stream,phase,scheduled_s,lag_ms,latency_ms,code,error\n", nil, false},
		{"rows", "stream,phase,scheduled_s,lag_ms,latency_ms,code,error\nredirect,fault,10.5,0.2,201.5,503,\"503 Service Unavailable\"\n",
			[]Sample{{Stream: "redirect", Phase: "fault", ScheduledS: 10.5, LagMs: 0.2, LatencyMs: 201.5, Code: 503, Error: "503 Service Unavailable"}}, false},
		{"reordered and extra columns", "latency_ms,extra,stream\n3.5,x,create\n", []Sample{{Stream: "create", LatencyMs: 3.5}}, false},
		{"missing latency column", "stream,phase\nx,y\n", nil, true},
		{"bad number", "stream,latency_ms\nx,fast\n", nil, true},
		{"short row", "stream,phase,latency_ms\nx\n", []Sample{{Stream: "x"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSamples(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrSamples) {
				t.Errorf("error %v does not wrap ErrSamples", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d samples, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("sample %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func FuzzReadSamples(f *testing.F) {
	f.Add("stream,phase,scheduled_s,lag_ms,latency_ms,code,error\nredirect,fault,1,0,2.5,302,\n")
	f.Add("latency_ms,stream\n1e308,x\n")
	f.Add("stream,latency_ms\n\"unterminated,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		ss, err := ReadSamples(strings.NewReader(in))
		if err != nil && ss != nil {
			t.Errorf("samples returned with an error")
		}
	})
}

func BenchmarkReadSamples(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(fixtureDir, SamplesFile))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ReadSamples(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteSamplesReadsBack ties the two ends of samples.csv: what the runner writes, the
// reports read as written (milliseconds to three decimals, seconds to four).
func TestWriteSamplesReadsBack(t *testing.T) {
	in := []reports.Sample{
		{Stream: "redirect", Phase: "fault", At: 10500 * time.Millisecond, Lag: 200 * time.Microsecond, Latency: 201500 * time.Microsecond, Code: 503, Err: "503 Service Unavailable"},
		{Stream: "create", Phase: "baseline", At: time.Second, Latency: 3 * time.Millisecond, Code: 201},
	}
	var buf bytes.Buffer
	if err := WriteSamples(&buf, in); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSamples(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{
		{Stream: "redirect", Phase: "fault", ScheduledS: 10.5, LagMs: 0.2, LatencyMs: 201.5, Code: 503, Error: "503 Service Unavailable"},
		{Stream: "create", Phase: "baseline", ScheduledS: 1, LatencyMs: 3, Code: 201},
	}
	if len(got) != len(want) {
		t.Fatalf("read %d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestWriteThenLoad ties the runner's side of the run directory to the reports' side: every
// file is written under its name, and Load reads back what Write was given.
func TestWriteThenLoad(t *testing.T) {
	dir := t.TempDir()
	res := &reports.Results{Scenario: "s", Profile: "default", Verdict: reports.VerdictPass, ExpectedVerdict: reports.VerdictPass, AsExpected: true,
		Faults: []reports.FaultEvent{{Fault: "latency", Target: "redirect->link", AppliedAt: 1, HealedAt: 2}}}
	rec := Record{
		Scenario: []byte("name: s\n"),
		Samples:  []reports.Sample{{Stream: "r", Phase: "fault", At: time.Second, Latency: time.Millisecond, Code: 302}},
		Results:  res,
		Timeline: Timeline{Faults: res.Faults, Breakers: []reports.BreakerTransition{{Service: "redirect", Edge: "redirect->link", From: "closed", To: "open", AtS: 1.5}}},
	}
	if err := Write(dir, rec); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ResultsFile, SamplesFile, ScenarioFile, TimelineFile, SpansFile, JUnitFile, SummaryFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	timeline, _ := os.ReadFile(filepath.Join(dir, TimelineFile))
	if !strings.Contains(string(timeline), `"breaker_transitions"`) || strings.Contains(string(timeline), `"abort"`) {
		t.Errorf("timeline.json:\n%s", timeline)
	}
	run, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if run.Dir != dir || run.Results.Scenario != "s" || run.Results.Verdict != reports.VerdictPass || len(run.Results.Faults) != 1 {
		t.Errorf("loaded results %+v", run.Results)
	}
	if string(run.Scenario) != "name: s\n" || len(run.Samples) != 1 || run.Samples[0].LatencyMs != 1 || run.SamplesErr != nil {
		t.Errorf("loaded scenario %q, samples %+v (%v)", run.Scenario, run.Samples, run.SamplesErr)
	}

	// No scenario: no scenario.yaml, and Load tolerates it.
	dir2 := t.TempDir()
	rec.Scenario = nil
	if err := Write(dir2, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir2, ScenarioFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scenario.yaml written without a scenario: %v", err)
	}
	if run, err := Load(dir2); err != nil || run.Scenario != nil {
		t.Errorf("Load without scenario.yaml = %+v, %v", run, err)
	}
}

func TestLoadNotARunDirectory(t *testing.T) {
	if _, err := Load(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of an empty directory = %v, want an error matching fs.ErrNotExist", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ResultsFile), []byte("{"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), ResultsFile) {
		t.Errorf("Load of a corrupt results.json = %v, want an error naming it", err)
	}
}

// TestSpansPlainOrGzip: ReadSpans finds a run's spans whichever way Write was told to store
// them, and a gzip run directory holds no plain file beside it.
func TestSpansPlainOrGzip(t *testing.T) {
	spans := []traces.Span{
		{Service: "gateway", Name: "GET /r/{code}", Kind: traces.KindServer, TraceID: traces.TraceID{1}, SpanID: traces.SpanID{1}},
		{Service: "redirect", Name: "GET /r/{code}", Kind: traces.KindServer, TraceID: traces.TraceID{1}, SpanID: traces.SpanID{2}, ParentSpanID: traces.SpanID{1}},
	}
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		if err := Write(dir, Record{Spans: spans, Results: &reports.Results{Scenario: "s"}, GzipSpans: gz}); err != nil {
			t.Fatal(err)
		}
		want, other := SpansFile, SpansGzFile
		if gz {
			want, other = other, want
		}
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("gzip=%v: %s not written: %v", gz, want, err)
		}
		if _, err := os.Stat(filepath.Join(dir, other)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("gzip=%v: %s written too (%v)", gz, other, err)
		}
		got, err := ReadSpans(dir)
		if err != nil {
			t.Fatalf("gzip=%v: %v", gz, err)
		}
		if len(got) != 2 || got[1].Service != "redirect" || got[1].ParentSpanID != spans[1].ParentSpanID {
			t.Errorf("gzip=%v: read back %+v", gz, got)
		}
	}
	if _, err := ReadSpans(t.TempDir()); err == nil || !strings.Contains(err.Error(), "spans of run") {
		t.Errorf("a directory without spans: %v", err)
	}
}
