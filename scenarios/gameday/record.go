package gameday

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html"
	"github.com/faultline/faultline/reports/rundir"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
)

// RecordFile is the game day's own record in its run directory: what `faultline gameday
// export` reads.
const RecordFile = "gameday.json"

// Record is gameday.json: the game day as it happened, times in seconds from its start.
type Record struct {
	Version   int                  `json:"version"`
	StartedAt time.Time            `json:"started_at"`
	DurationS float64              `json:"duration_s"`
	Profile   string               `json:"profile"`
	Seed      int64                `json:"seed"`
	Streams   []StreamRecord       `json:"streams"`
	SLOs      []SLOSpec            `json:"slos,omitempty"`
	Faults    []reports.FaultEvent `json:"faults"`
	Notes     []reports.Note       `json:"notes,omitempty"`
	Timeline  []TimelineEvent      `json:"timeline"`
	// SamplesDropped counts requests beyond MaxSamples, measured live but not kept.
	SamplesDropped int `json:"samples_dropped,omitempty"`
}

// TimelineEvent is a ledger event on the game day's clock.
type TimelineEvent struct {
	AtS float64 `json:"at_s"`
	ledger.Event
}

// Close stops the load and writes the run directory dir (created if missing): samples,
// spans, the fault timeline with who and when, notes, results.json judged by the SLOs the
// team set, the scenario that replays the day, gameday.json and the HTML report. Logs are
// the lab's (its run dir). spans may be nil.
func (s *Session) Close(ctx context.Context, dir string, spans []traces.Span) (*reports.Results, error) {
	s.StopAll("end of game day")
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	end := time.Now()
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("gameday: %w", err)
	}
	rec := s.record(end)
	scenarioYAML, xerr := Export(rec)
	var sc *scenarios.Scenario
	if xerr == nil {
		var perr error
		if sc, perr = scenarios.Parse(filepath.Join(dir, rundir.ScenarioFile), scenarioYAML); perr != nil {
			xerr = perr
		}
	}
	res := s.judge(rec, sc, spans)
	if xerr != nil {
		res.InvalidReasons = append(res.InvalidReasons, "no replay scenario: "+xerr.Error())
		scenarioYAML = nil
	}
	var errs []error
	errs = append(errs, writeRecord(filepath.Join(dir, RecordFile), rec))
	errs = append(errs, rundir.Write(dir, rundir.Record{Scenario: scenarioYAML, Samples: s.samples, Spans: spans,
		Timeline: rundir.Timeline{Faults: res.Faults}, Results: res}))
	errs = append(errs, html.RenderDir(dir))
	return res, errors.Join(errs...)
}

func writeRecord(path string, rec Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// record assembles gameday.json from the streams and the ledger's events since the start.
func (s *Session) record(end time.Time) Record {
	s.mu.Lock()
	rec := Record{Version: 1, StartedAt: s.start, DurationS: round3(end.Sub(s.start).Seconds()), Profile: s.o.Profile,
		Seed: s.o.Seed, Streams: s.records(), SLOs: append([]SLOSpec(nil), s.slos...), SamplesDropped: s.dropped}
	s.mu.Unlock()
	if s.o.Ledger == nil {
		return rec
	}
	at := func(t time.Time) float64 { return round3(max(t.Sub(s.start).Seconds(), 0)) }
	open := map[int]int{} // fault id -> index in rec.Faults
	for _, e := range s.o.Ledger.Events(0) {
		if e.At.Before(s.start) {
			continue
		}
		rec.Timeline = append(rec.Timeline, TimelineEvent{AtS: at(e.At), Event: e})
		switch e.Kind {
		case ledger.KindInject:
			open[e.FaultID] = len(rec.Faults)
			rec.Faults = append(rec.Faults, reports.FaultEvent{Fault: e.Fault, Target: e.Target, Params: e.Params,
				AppliedAt: at(e.At), HealedAt: -1, Who: whoSource(e)})
		case ledger.KindHeal, ledger.KindExpire, ledger.KindDeadman:
			if i, ok := open[e.FaultID]; ok && e.FaultID != 0 {
				rec.Faults[i].HealedAt = at(e.At)
				delete(open, e.FaultID)
			}
		case ledger.KindNote:
			rec.Notes = append(rec.Notes, reports.Note{AtS: at(e.At), Who: e.Who, Text: e.Text})
		}
	}
	for _, i := range open { // still active at the end: the lab heals it on teardown
		rec.Faults[i].HealedAt = rec.DurationS
	}
	return rec
}

func whoSource(e ledger.Event) string {
	switch {
	case e.Who == "":
		return e.Source
	case e.Source == "" || strings.Contains(e.Who, "("):
		return e.Who
	}
	return e.Who + " (" + e.Source + ")"
}

// judge computes the figures and the verdict of the day with the same code as a scenario
// run: phases cut from the faults as they happened, SLOs the team set, the service map.
func (s *Session) judge(rec Record, sc *scenarios.Scenario, spans []traces.Span) *reports.Results {
	total := time.Duration(rec.DurationS * float64(time.Second))
	var cuts [][2]time.Duration
	for _, f := range rec.Faults {
		cuts = append(cuts, [2]time.Duration{secs(f.AppliedAt), secs(f.HealedAt)})
	}
	phases := reports.CutPhases(total, cuts)
	res := &reports.Results{Scenario: "gameday", Description: describe(rec), Profile: rec.Profile, Seed: rec.Seed,
		StartedAt: rec.StartedAt, DurationS: rec.DurationS, ExpectedVerdict: reports.VerdictPass, Valid: true,
		Phases: phases, Faults: rec.Faults, Notes: rec.Notes, Expectations: []reports.Expectation{}}
	reports.AssignPhases(s.samples, phases)
	var specs []reports.StreamSpec
	for _, st := range rec.Streams {
		specs = append(specs, reports.StreamSpec{Name: st.Name, Request: st.Request, Rate: lastRate(st), Schedule: schedule(st)})
	}
	res.Streams = reports.Figures(s.samples, specs, phases)
	if sc != nil {
		res.SLOs = verdict.EvaluateSLOs(s.samples, sc.SLOs, phases)
	}
	res.Timeseries = reports.Timeseries(s.samples)
	if len(spans) > 0 {
		res.ServiceMap = traces.ServiceMap(spans, phases, rec.StartedAt)
	}
	if rec.SamplesDropped > 0 {
		res.InvalidReasons = append(res.InvalidReasons, fmt.Sprintf("%d requests beyond %d were measured live but not kept", rec.SamplesDropped, MaxSamples))
		res.Valid = false
	}
	if len(res.SLOs) == 0 {
		// Nothing was judged: a game day without SLOs is a record, never a pass.
		res.Valid = false
		res.InvalidReasons = append(res.InvalidReasons, "no SLO was set during the game day: nothing to judge")
	}
	verdict.Decide(res, nil)
	return res
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func describe(rec Record) string {
	return fmt.Sprintf("Game day of %s: %d load stream(s), %d fault(s), %d note(s).",
		rec.StartedAt.UTC().Format("2006-01-02 15:04 MST"), len(rec.Streams), len(rec.Faults), len(rec.Notes))
}

func lastRate(st StreamRecord) float64 {
	for i := len(st.Changes) - 1; i >= 0; i-- {
		if st.Changes[i].Rate > 0 {
			return st.Changes[i].Rate
		}
	}
	return 0
}

// schedule spells a stream's rate history ("100/s at 0s, stopped at 40s, 200/s at 60s").
func schedule(st StreamRecord) string {
	if len(st.Changes) <= 1 {
		return ""
	}
	var parts []string
	for _, c := range st.Changes {
		if c.Rate == 0 {
			parts = append(parts, fmt.Sprintf("stopped at %.0fs", c.AtS))
		} else {
			parts = append(parts, fmt.Sprintf("%g/s at %.0fs", c.Rate, c.AtS))
		}
	}
	return strings.Join(parts, ", ")
}

// ReadRecord reads a run directory's gameday.json.
func ReadRecord(dir string) (Record, error) {
	var rec Record
	b, err := os.ReadFile(filepath.Join(dir, RecordFile))
	if err != nil {
		return rec, fmt.Errorf("gameday: %w (is %s a game day's run directory?)", err, dir)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("gameday: %s: %w", filepath.Join(dir, RecordFile), err)
	}
	sort.SliceStable(rec.Faults, func(i, j int) bool { return rec.Faults[i].AppliedAt < rec.Faults[j].AppliedAt })
	return rec, nil
}
