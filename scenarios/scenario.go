// Package scenarios defines the scenario file format, parses it strictly and validates it.
package scenarios

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
)

// Limits that keep a scenario bounded on a shared machine.
const (
	MaxRate      = 20000     // requests per second per stream
	MaxDuration  = time.Hour // per scenario
	MaxCodes     = 100000    // links created by the setup step
	DefaultSeed  = 1         // when the file gives none
	DefaultCodes = 50        // codes a {code} stream draws from
)

// DefaultBody is the POST body template; <seq> is the request's sequence number in its stream
// and <n> an account number 1..10 derived from it.
const DefaultBody = `{"url": "https://example.com/<seq>", "account": "acct-<n>"}`

// Duration is a time.Duration written as "20s" in YAML and JSON.
type Duration time.Duration

// D returns the standard duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string such as "20s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// MarshalYAML writes the duration as a string such as "20s".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Scenario is one parsed and validated scenario file.
type Scenario struct {
	File        string         `json:"file,omitempty" yaml:"file,omitempty"`
	Name        string         `json:"name" yaml:"name"`
	Description string         `json:"description,omitempty" yaml:"description,omitempty"`
	Profile     string         `json:"profile" yaml:"profile"`
	Seed        int64          `json:"seed" yaml:"seed"`
	Duration    Duration       `json:"duration" yaml:"duration"`
	Load        []Stream       `json:"load" yaml:"load"`
	Setup       Setup          `json:"setup" yaml:"setup"`
	Faults      []Fault        `json:"faults" yaml:"faults"`
	SLOs        []verdict.SLO  `json:"slos" yaml:"slos"`
	Expect      verdict.Expect `json:"expect" yaml:"expect"`
	// Blast overrides the blast-radius thresholds; a zero field keeps the lab's default.
	Blast     reports.BlastThresholds `json:"blast" yaml:"blast"`
	AbortWhen []Abort                 `json:"abort_when,omitempty" yaml:"abort_when,omitempty"`
	// Controls are the mutant profiles this scenario must catch (faultline mutate).
	Controls []string       `json:"controls,omitempty" yaml:"controls,omitempty"`
	keyPos   map[string]Pos // top-level values, for errors found after decoding
	// sloPos places each SLO's parts, impactPos each user_impact stream, for errors found
	// after decoding.
	sloPos    []sloPos
	impactPos map[string]Pos

	// CodeControls are the code mutants (scenarios/mutants) this scenario must catch
	// (faultline mutate --code).
	CodeControls []string `json:"code_controls,omitempty" yaml:"code_controls,omitempty"`
}

// Stream is one named open-model load stream.
type Stream struct {
	Name    string  `json:"name" yaml:"name"`
	Request string  `json:"request" yaml:"request"` // "METHOD /path", {code} is replaced by a setup code
	Method  string  `json:"method" yaml:"method"`
	Path    string  `json:"path" yaml:"path"`
	Rate    float64 `json:"rate" yaml:"rate"` // per second; with a ramp, the rate it ends at
	Ramp    *Ramp   `json:"ramp,omitempty" yaml:"ramp,omitempty"`
	Stages  []Stage `json:"stages,omitempty" yaml:"stages,omitempty"`
	Body    string  `json:"body,omitempty" yaml:"body,omitempty"`   // POST only
	Codes   int     `json:"codes,omitempty" yaml:"codes,omitempty"` // {code} streams only
	pos     Pos
	codesAt Pos // the codes value when given, else the stream
}

// UsesCodes says whether the stream's path draws from the setup codes.
func (s Stream) UsesCodes() bool { return pathHasCode(s.Path) }

// Ramp moves a stream's rate linearly from From to To during Over, then holds To.
type Ramp struct {
	From float64  `json:"from" yaml:"from"`
	To   float64  `json:"to" yaml:"to"`
	Over Duration `json:"over" yaml:"over"`
}

// Stage holds a stream at Rate for For. Stages follow one another from the run start; the
// last stage's rate holds to the end of the run.
type Stage struct {
	Rate float64  `json:"rate" yaml:"rate"`
	For  Duration `json:"for" yaml:"for"`
}

// Surges are the windows in which a staged stream asks for another rate than its first
// stage: a load surge disturbs the system like a fault does, so it cuts the phases too. The
// last stage's rate holds until the run ends at total.
func (s Stream) Surges(total time.Duration) [][2]time.Duration {
	var out [][2]time.Duration
	var at time.Duration
	for i, sg := range s.Stages {
		end := at + sg.For.D()
		if i == len(s.Stages)-1 {
			end = max(end, total)
		}
		if sg.Rate != s.Stages[0].Rate {
			out = append(out, [2]time.Duration{at, end})
		}
		at = end
	}
	return out
}

// Schedule spells a changing rate for reports; empty for a constant rate.
func (s Stream) Schedule() string {
	switch {
	case s.Ramp != nil:
		return fmt.Sprintf("%s to %s over %s, then held", rateText(s.Ramp.From), rateText(s.Ramp.To), s.Ramp.Over)
	case len(s.Stages) > 0:
		parts := make([]string, 0, len(s.Stages)+1)
		for _, sg := range s.Stages {
			parts = append(parts, fmt.Sprintf("%s for %s", rateText(sg.Rate), sg.For))
		}
		return strings.Join(parts, ", ") + ", then held"
	}
	return ""
}

// Setup is what the lab prepares before the load starts.
type Setup struct {
	Links int `json:"links" yaml:"links"` // links created through the gateway; their codes feed {code}
	// WarmCache false leaves the created codes unresolved, so the load starts on a cold cache;
	// nil (the default) and true resolve each code once first.
	WarmCache *bool `json:"warm_cache,omitempty" yaml:"warm_cache,omitempty"`
}

// Warm says whether the setup resolves every code once before the load.
func (s Setup) Warm() bool { return s.WarmCache == nil || *s.WarmCache }

// Fault kinds, as toxics.Kind spells them.
const (
	KindNetwork = "network"
	KindProcess = "process"
)

// Fault is one scheduled fault: Fault on Edge or Component from At for For.
type Fault struct {
	At        Duration          `json:"at" yaml:"at"`
	For       Duration          `json:"for" yaml:"for"`
	Fault     string            `json:"fault" yaml:"fault"`
	Kind      string            `json:"kind" yaml:"kind"`
	Edge      string            `json:"edge,omitempty" yaml:"edge,omitempty"`
	Component string            `json:"component,omitempty" yaml:"component,omitempty"`
	Params    map[string]string `json:"params,omitempty" yaml:"params,omitempty"`
	// Background faults are part of the environment under test (a database far away, a
	// slow disk): they are injected and healed like any fault but do not cut the phases.
	Background bool `json:"background,omitempty" yaml:"background,omitempty"`
	pos        Pos
	atPos      Pos
	paramPos   map[string]Pos
	paramVals  map[string]any // typed as written, for toxics.New
}

// Target is the edge or component the fault acts on.
func (f Fault) Target() string {
	if f.Edge != "" {
		return f.Edge
	}
	return f.Component
}

// Start and End bound the fault from the run start.
func (f Fault) Start() time.Duration { return f.At.D() }

// End is when the fault's undo runs.
func (f Fault) End() time.Duration { return f.At.D() + f.For.D() }

// sloPos is where an SLO's stream and each of its phases stand in the file.
type sloPos struct {
	load   Pos
	phases []Pos
	// thresholds[i] is where threshold i of the SLO is written.
	thresholds []Pos
}

// Abort is a condition that stops the run: Threshold true on Stream for For.
type Abort struct {
	Raw       string            `json:"raw" yaml:"raw"`
	Stream    string            `json:"stream" yaml:"stream"`
	Threshold verdict.Threshold `json:"threshold" yaml:"-"`
	For       Duration          `json:"for" yaml:"for"`
	pos       Pos
}

// MarshalYAML writes the condition as written.
func (a Abort) MarshalYAML() (any, error) { return a.Raw, nil }

// ParseFile reads and parses one scenario file. A relative profile path is taken from the
// file's directory (as its reader would take it), so the scenario runs the same from any
// working directory; the profile file must exist.
func ParseFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	sc, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if err := sc.resolveProfile(); err != nil {
		return nil, err
	}
	return sc, nil
}

// resolveProfile joins a relative .yaml profile path to the scenario file's directory.
func (sc *Scenario) resolveProfile() error {
	if !strings.HasSuffix(sc.Profile, ".yaml") || filepath.IsAbs(sc.Profile) {
		return nil
	}
	p := filepath.Join(filepath.Dir(sc.File), sc.Profile)
	if _, err := os.Stat(p); err != nil {
		errs := &Errors{}
		errs.add(sc.File, sc.keyPos["profile"], "profile: no profile file %s (a profile path is relative to the scenario file)", p)
		return errs
	}
	sc.Profile = p
	return nil
}

// Parse parses and validates a scenario; name is used in error positions. Every problem is
// returned at once as *Errors.
func Parse(name string, data []byte) (*Scenario, error) {
	errs := &Errors{}
	d := &decoder{file: name, errs: errs}
	body := d.parseDocument(data)
	if body == nil {
		return nil, errs.sorted()
	}
	sc := d.scenario(body)
	if sc != nil {
		sc.File = name
		validate(d, sc)
	}
	if len(errs.List) > 0 {
		return nil, errs.sorted()
	}
	return sc, nil
}

// LoadDir parses every *.yaml and *.yml file of dir, sorted by name. It returns the scenarios
// that parsed and one joined error for those that did not.
func LoadDir(dir string) ([]*Scenario, error) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("scenario: %w", err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	var (
		out  []*Scenario
		errs []error
	)
	for _, f := range files {
		sc, err := ParseFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sc)
	}
	if len(errs) > 0 {
		return out, joinErrors(errs)
	}
	return out, nil
}

type multiError []error

func (m multiError) Error() string {
	s := ""
	for i, e := range m {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}

func (m multiError) Unwrap() []error { return m }

func joinErrors(errs []error) error { return multiError(errs) }

// Phases cuts the run into phases from the schedule, as planned (see reports.CutPhases):
// baseline before the first disturbance starts, fault while one is active, between in a quiet
// gap between two, recovery after the last ends. Disturbances are the faults that are not
// background and the surges of staged streams. Validation and the live progress use these;
// a run's figures are cut by RunPhases from what actually happened.
func (s *Scenario) Phases() []reports.PhaseWindow {
	var spans [][2]time.Duration
	for _, f := range s.Faults {
		if !f.Background {
			spans = append(spans, [2]time.Duration{f.Start(), f.End()})
		}
	}
	return reports.CutPhases(s.Duration.D(), append(spans, s.surges()...))
}

// RunPhases cuts a run of this scenario into phases from its fault timeline (index-aligned
// with s.Faults, as the runner records it): each fault counts from when its apply began (it
// may act from then on: a SIGKILL acts when sent) to when its undo completed (it may act until
// then), so neither baseline nor recovery holds a moment the fault may have acted in, and an
// apply or heal that was late moves the phase with it. A fault without `for` (restart) is its
// apply: from the kill until the component is ready. A fault never applied (the run aborted
// first, or its apply failed) disturbs nothing. Surges come from the load schedule, which the
// generator keeps exactly. A timeline that does not match the scenario (the schedule never
// ran) falls back to Phases.
func (s *Scenario) RunPhases(timeline []reports.FaultEvent) []reports.PhaseWindow {
	if len(timeline) != len(s.Faults) {
		return s.Phases()
	}
	var spans [][2]time.Duration
	for i, f := range s.Faults {
		ev := timeline[i]
		if ev.Fault != f.Fault || ev.Target != f.Target() {
			return s.Phases()
		}
		if f.Background || ev.AppliedAt < 0 {
			continue
		}
		began, applied := seconds(ev.AppliedAt-ev.ApplyS), seconds(ev.AppliedAt)
		switch {
		case f.For == 0:
			spans = append(spans, [2]time.Duration{began, applied})
		case ev.HealedAt >= 0:
			spans = append(spans, [2]time.Duration{began, seconds(ev.HealedAt)})
		}
	}
	return reports.CutPhases(s.Duration.D(), append(spans, s.surges()...))
}

func (s *Scenario) surges() [][2]time.Duration {
	var out [][2]time.Duration
	for _, st := range s.Load {
		out = append(out, st.Surges(s.Duration.D())...)
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Streams describes the load streams for reports.Figures.
func (s *Scenario) Streams() []reports.StreamSpec {
	out := make([]reports.StreamSpec, len(s.Load))
	for i, st := range s.Load {
		out[i] = reports.StreamSpec{Name: st.Name, Request: st.Request, Rate: st.Rate, Schedule: st.Schedule()}
	}
	return out
}

// ResolvedJSON is the scenario with every default filled in, for the run directory.
func (s *Scenario) ResolvedJSON() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("scenario: resolve %s: %w", s.Name, err)
	}
	return append(b, '\n'), nil
}

// ResolvedYAML is the scenario with every default filled in, in the scenario format itself
// (normalised: shorthands expanded), for the run directory.
func (s *Scenario) ResolvedYAML() ([]byte, error) {
	b, err := yaml.MarshalWithOptions(resolvedView(s), yaml.UseLiteralStyleIfMultiline(true))
	if err != nil {
		return nil, fmt.Errorf("scenario: resolve %s: %w", s.Name, err)
	}
	return b, nil
}

// ThresholdPos is where threshold j of SLO i is written in the file; zero when the scenario
// was not parsed from a file.
func (s *Scenario) ThresholdPos(i, j int) Pos {
	if i < len(s.sloPos) && j < len(s.sloPos[i].thresholds) {
		return s.sloPos[i].thresholds[j]
	}
	return Pos{}
}
