// Package rundir is the run directory: the files a run leaves, by name, how the runner writes
// them and how reports read them back.
package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
)

// File names inside a run directory (the lab writes component logs under logs/).
const (
	ResultsFile  = "results.json"    // reports.Results, docs/results.md
	SamplesFile  = "samples.csv"     // one row per request (Sample)
	ScenarioFile = "scenario.yaml"   // the scenario as resolved for the run
	TimelineFile = "timeline.json"   // faults and breaker transitions (Timeline)
	SpansFile    = "spans.jsonl"     // every span received, one JSON line each
	SpansGzFile  = SpansFile + ".gz" // the same through gzip (Record.GzipSpans)
	JUnitFile    = "junit.xml"
	SummaryFile  = "summary.md"
	ReportFile   = "report.html" // rendered from the others by reports/html
)

// Record is what a finished run writes into its directory, the HTML report aside.
type Record struct {
	Scenario []byte // resolved scenario YAML; nil writes no scenario.yaml
	Samples  []reports.Sample
	Timeline Timeline
	Spans    []traces.Span
	Results  *reports.Results
	// GzipSpans writes spans.jsonl.gz instead of spans.jsonl: a tenth of the disk for half
	// again the writing time (BenchmarkWriteSpans), for callers that write many runs.
	GzipSpans bool
}

// Timeline is timeline.json: what happened to the system, in run time.
type Timeline struct {
	Faults   []reports.FaultEvent        `json:"faults"`
	Breakers []reports.BreakerTransition `json:"breaker_transitions"`
	Abort    *reports.Abort              `json:"abort,omitempty"`
}

// Write lays out the run directory dir (which exists) from rec. It writes every file it can and
// returns every failure.
func Write(dir string, rec Record) error {
	var errs []error
	if rec.Scenario != nil {
		errs = append(errs, os.WriteFile(filepath.Join(dir, ScenarioFile), rec.Scenario, 0o644))
	}
	errs = append(errs, writeWith(filepath.Join(dir, SamplesFile), func(w io.Writer) error { return WriteSamples(w, rec.Samples) }))
	errs = append(errs, writeWith(filepath.Join(dir, TimelineFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rec.Timeline)
	}))
	if rec.GzipSpans {
		errs = append(errs, writeWith(filepath.Join(dir, SpansGzFile), func(w io.Writer) error { return traces.WriteSpansGzip(w, rec.Spans) }))
	} else {
		errs = append(errs, writeWith(filepath.Join(dir, SpansFile), func(w io.Writer) error { return traces.WriteSpans(w, rec.Spans) }))
	}
	errs = append(errs, reports.WriteResults(filepath.Join(dir, ResultsFile), rec.Results))
	errs = append(errs, writeWith(filepath.Join(dir, JUnitFile), func(w io.Writer) error { return reports.WriteJUnit(w, rec.Results) }))
	errs = append(errs, writeWith(filepath.Join(dir, SummaryFile), func(w io.Writer) error { return reports.WriteMarkdown(w, rec.Results) }))
	return errors.Join(errs...)
}

func writeWith(path string, render func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := render(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadSpans reads a run directory's spans, from spans.jsonl or else spans.jsonl.gz.
func ReadSpans(dir string) ([]traces.Span, error) {
	f, err := os.Open(filepath.Join(dir, SpansFile))
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.Open(filepath.Join(dir, SpansGzFile))
	}
	if err != nil {
		return nil, fmt.Errorf("spans of run %s: %w", dir, err)
	}
	defer f.Close()
	spans, err := traces.ReadSpans(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return spans, nil
}

// Run is what a run directory holds for reports.
type Run struct {
	Dir      string
	Results  *reports.Results
	Samples  []Sample // nil when samples.csv is missing or unreadable
	Scenario []byte   // nil when scenario.yaml is missing
	// SamplesErr says why samples.csv could not be read; the report then falls back to the
	// recorded percentiles instead of failing (a crash can truncate the file).
	SamplesErr error
}

// Load reads a run directory: results.json is required (an error matching fs.ErrNotExist
// when it is missing); samples.csv and scenario.yaml are optional, and an unreadable
// samples.csv is recorded in SamplesErr, not returned.
func Load(dir string) (*Run, error) {
	b, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var res reports.Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("report: %s: %w", filepath.Join(dir, ResultsFile), err)
	}
	run := &Run{Dir: dir, Results: &res}
	if f, err := os.Open(filepath.Join(dir, SamplesFile)); err == nil {
		run.Samples, run.SamplesErr = ReadSamples(f)
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		run.SamplesErr = err
	}
	if run.Scenario, err = os.ReadFile(filepath.Join(dir, ScenarioFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("report: %w", err)
	}
	return run, nil
}
