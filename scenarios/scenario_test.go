package scenarios

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

var update = flag.Bool("update", false, "rewrite testdata/*.errors golden files")

// TestFixtures parses every testdata file: *.good.yaml must parse, *.bad.yaml must fail with
// exactly the errors in its .errors golden file.
func TestFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < 6 {
		t.Fatalf("found %d fixtures, want the good and bad set", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := ParseFile(f)
			if strings.HasSuffix(f, ".good.yaml") {
				if err != nil {
					t.Fatalf("good fixture rejected:\n%v", err)
				}
				if sc.Name == "" || sc.Duration <= 0 || len(sc.Load) == 0 {
					t.Fatalf("good fixture parsed empty: %+v", sc)
				}
				return
			}
			if err == nil {
				t.Fatal("bad fixture accepted")
			}
			var list *Errors
			if !errors.As(err, &list) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error is %T, want *Errors matching ErrInvalid", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".errors"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("no golden file (run go test -update): %v", rerr)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			posRE := regexp.MustCompile(`^` + regexp.QuoteMeta(f) + `:\d+:\d+: \S`)
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !posRE.MatchString(line) {
					t.Errorf("line %q is not FILE:LINE:COL: message", line)
				}
			}
		})
	}
}

func TestParseDefaultsAndShapes(t *testing.T) {
	sc, err := ParseFile("testdata/link-db-latency.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Seed != 42 || sc.Profile != "default" || sc.Duration.D().Seconds() != 60 {
		t.Errorf("header: got seed %d profile %q duration %s", sc.Seed, sc.Profile, sc.Duration)
	}
	if got := sc.Load[0]; got.Method != "GET" || got.Path != "/r/{code}" || got.Rate != 300 || got.Codes != DefaultCodes {
		t.Errorf("redirect stream: got %+v", got)
	}
	if got := sc.Load[1]; got.Body != DefaultBody || got.Rate != 20 {
		t.Errorf("create stream: got body %q rate %g", got.Body, got.Rate)
	}
	if sc.Setup.Links != DefaultCodes {
		t.Errorf("setup.links: got %d, want the default %d", sc.Setup.Links, DefaultCodes)
	}
	f0, f1 := sc.Faults[0], sc.Faults[1]
	if f0.Fault != "latency" || f0.Kind != KindNetwork || f0.Edge != "link->link-db" || f0.Params["latency"] != "400ms" || f0.End().Seconds() != 40 {
		t.Errorf("fault 0: got %+v", f0)
	}
	if f1.Fault != "crash" || f1.Kind != KindProcess || f1.Component != "analytics" || f1.For.D().Seconds() != 5 {
		t.Errorf("fault 1 (crash shorthand): got %+v", f1)
	}
	if th := sc.SLOs[0].Thresholds[0]; th.Metric != "p" || th.Percentile != 99 || th.Value != 50 || th.Unit != reports.UnitMs {
		t.Errorf("threshold: got %+v", th)
	}
	if a := sc.AbortWhen[0]; a.Stream != "redirect" || a.Threshold.Metric != "errors" || a.Threshold.Value != 0.5 || a.For.D().Seconds() != 5 {
		t.Errorf("abort: got %+v", a)
	}
	if b := sc.Expect.BlastRadius.UserImpact["redirect"]; b.Op != "<=" || b.Value != 0 || !b.Holds(0) || b.Holds(0.0001) {
		t.Errorf("user impact bound: got %+v", b)
	}
	if *sc.Expect.Data.LostLinks != 0 || sc.Expect.Data.MissingClicks != nil {
		t.Errorf("data expectations: got %+v", sc.Expect.Data)
	}
}

func TestSeedDefault(t *testing.T) {
	sc, err := Parse("s.yaml", []byte("name: s\nduration: 10s\nload: [{name: a, request: GET /healthz, rate: 5}]\nslos: [{load: a, thresholds: [errors<1%]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Seed != DefaultSeed || sc.Expect.Verdict != reports.VerdictPass || sc.Setup.Links != 0 {
		t.Errorf("defaults: seed %d verdict %q links %d", sc.Seed, sc.Expect.Verdict, sc.Setup.Links)
	}
}

func TestPhases(t *testing.T) {
	base := "name: p\nduration: 60s\nload: [{name: a, request: GET /x, rate: 5}]\n"
	w := func(name string, from, to float64) reports.PhaseWindow {
		return reports.PhaseWindow{Name: name, StartS: from, EndS: to}
	}
	cases := []struct {
		name   string
		faults string
		want   []reports.PhaseWindow
	}{
		{"no faults", "", []reports.PhaseWindow{w("baseline", 0, 60)}},
		{"one fault", "faults: [{at: 20s, for: 10s, crash: link}]\n",
			[]reports.PhaseWindow{w("baseline", 0, 20), w("fault", 20, 30), w("recovery", 30, 60)}},
		// A quiet gap between two faults is healthy time: counted as fault it would dilute
		// the fault phase's figures (issue point 6).
		{"gap between faults is not fault phase", "faults: [{at: 40s, for: 5s, pause: redis}, {at: 10s, for: 5s, crash: link}]\n",
			[]reports.PhaseWindow{w("baseline", 0, 10), w("fault", 10, 15), w("between", 15, 40), w("fault", 40, 45), w("recovery", 45, 60)}},
		{"overlapping faults are one window", "faults: [{at: 10s, for: 10s, pause: redis}, {at: 15s, for: 10s, crash: link}, {at: 25s, for: 5s, crash: billing}]\n",
			[]reports.PhaseWindow{w("baseline", 0, 10), w("fault", 10, 30), w("recovery", 30, 60)}},
		{"a restart ends the baseline and starts the recovery", "faults: [{at: 20s, restart: link}]\n",
			[]reports.PhaseWindow{w("baseline", 0, 20), w("recovery", 20, 60)}},
		{"a restart inside a gap leaves one gap", "faults: [{at: 10s, for: 5s, pause: redis}, {at: 20s, restart: link}, {at: 30s, for: 5s, crash: link}]\n",
			[]reports.PhaseWindow{w("baseline", 0, 10), w("fault", 10, 15), w("between", 15, 30), w("fault", 30, 35), w("recovery", 35, 60)}},
		{"fault from the start", "faults: [{at: 0s, for: 10s, crash: link}]\n",
			[]reports.PhaseWindow{w("fault", 0, 10), w("recovery", 10, 60)}},
		{"fault to the end", "faults: [{at: 30s, for: 30s, edge: link->nats, toxic: partition}]\n",
			[]reports.PhaseWindow{w("baseline", 0, 30), w("fault", 30, 60)}},
		{"a background fault does not cut phases", "faults: [{at: 0s, for: 60s, edge: link->link-db, toxic: latency, latency: 50ms, background: true}]\n",
			[]reports.PhaseWindow{w("baseline", 0, 60)}},
		{"a surge is a disturbance", "load: [{name: a, request: GET /x, stages: [{rate: 5, for: 10s}, {rate: 50, for: 10s}, {rate: 5, for: 10s}]}]\n" +
			"faults: [{at: 0s, for: 60s, edge: link->link-db, toxic: latency, latency: 50ms, background: true}]\n",
			[]reports.PhaseWindow{w("baseline", 0, 10), w("fault", 10, 20), w("recovery", 20, 60)}},
		{"surge and fault together", "load: [{name: a, request: GET /x, stages: [{rate: 5, for: 10s}, {rate: 50, for: 10s}]}]\n" +
			"faults: [{at: 25s, for: 5s, crash: link}]\n",
			[]reports.PhaseWindow{w("baseline", 0, 10), w("fault", 10, 60)}}, // the last stage holds to the end
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := base
			if strings.HasPrefix(c.faults, "load:") {
				doc = "name: p\nduration: 60s\n"
			}
			sc, err := Parse("p.yaml", []byte(doc+c.faults+"slos: [{load: a, thresholds: [errors<1%]}]\n"))
			if err != nil {
				t.Fatal(err)
			}
			got := sc.Phases()
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
			if err := reports.CheckWindows(got); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestRunPhases: a run's phases come from when each fault was actually applied and healed,
// not from its plan (issue point 6): a late apply must not put healthy time into the fault
// phase, a late heal must not put fault time into the recovery.
func TestRunPhases(t *testing.T) {
	base := "name: p\nduration: 60s\nload: [{name: a, request: GET /x, rate: 5}]\nslos: [{load: a, thresholds: [\"errors<1%\"]}]\n"
	w := func(name string, from, to float64) reports.PhaseWindow {
		return reports.PhaseWindow{Name: name, StartS: from, EndS: to}
	}
	ev := func(fault, target string, applied, healed float64) reports.FaultEvent {
		return reports.FaultEvent{Fault: fault, Target: target, AppliedAt: applied, HealedAt: healed}
	}
	took := func(e reports.FaultEvent, applyS float64) reports.FaultEvent { e.ApplyS = applyS; return e }
	cases := []struct {
		name     string
		faults   string
		timeline []reports.FaultEvent
		want     []reports.PhaseWindow
	}{
		{"an apply 2 s late moves the fault start", "faults: [{at: 20s, for: 10s, crash: link}]\n",
			[]reports.FaultEvent{took(ev("crash", "link", 22.05, 30.1), 0.05)},
			[]reports.PhaseWindow{w("baseline", 0, 22), w("fault", 22, 30.1), w("recovery", 30.1, 60)}},
		// The kill went out when the apply began: the baseline must not hold a request it hit.
		{"a fault acts from when its apply began", "faults: [{at: 20s, for: 10s, crash: link}]\n",
			[]reports.FaultEvent{took(ev("crash", "link", 20.3, 30), 0.3)},
			[]reports.PhaseWindow{w("baseline", 0, 20), w("fault", 20, 30), w("recovery", 30, 60)}},
		{"a slow heal moves the recovery start", "faults: [{at: 20s, for: 10s, edge: link->link-db, toxic: latency, latency: 50ms}]\n",
			[]reports.FaultEvent{ev("latency", "link->link-db", 20.01, 31.5)},
			[]reports.PhaseWindow{w("baseline", 0, 20.01), w("fault", 20.01, 31.5), w("recovery", 31.5, 60)}},
		{"the gap between two faults is not fault phase", "faults: [{at: 10s, for: 5s, pause: redis}, {at: 40s, for: 5s, crash: link}]\n",
			[]reports.FaultEvent{ev("pause", "redis", 10, 15), ev("crash", "link", 40.2, 45.8)},
			[]reports.PhaseWindow{w("baseline", 0, 10), w("fault", 10, 15), w("between", 15, 40.2), w("fault", 40.2, 45.8), w("recovery", 45.8, 60)}},
		{"a fault never applied disturbs nothing", "faults: [{at: 10s, for: 5s, pause: redis}, {at: 40s, for: 5s, crash: link}]\n",
			[]reports.FaultEvent{ev("pause", "redis", 10, 15), ev("crash", "link", -1, -1)},
			[]reports.PhaseWindow{w("baseline", 0, 10), w("fault", 10, 15), w("recovery", 15, 60)}},
		{"a failed apply disturbs nothing", "faults: [{at: 10s, for: 5s, pause: redis}]\n",
			[]reports.FaultEvent{{Fault: "pause", Target: "redis", AppliedAt: 10, HealedAt: -1, Error: "boom"}},
			[]reports.PhaseWindow{w("baseline", 0, 60)}},
		{"a background fault does not cut phases", "faults: [{at: 0s, for: 60s, edge: link->link-db, toxic: latency, latency: 50ms, background: true}, {at: 20s, for: 10s, crash: link}]\n",
			[]reports.FaultEvent{ev("latency", "link->link-db", 0.3, 60.1), ev("crash", "link", 20, 30)},
			[]reports.PhaseWindow{w("baseline", 0, 20), w("fault", 20, 30), w("recovery", 30, 60)}},
		{"a restart lasts from its start until it is ready", "faults: [{at: 20s, restart: link}]\n",
			[]reports.FaultEvent{took(ev("restart", "link", 21.5, 60.2), 1.5)},
			[]reports.PhaseWindow{w("baseline", 0, 20), w("fault", 20, 21.5), w("recovery", 21.5, 60)}},
		{"a heal after the end leaves no recovery", "faults: [{at: 30s, for: 30s, edge: link->nats, toxic: partition}]\n",
			[]reports.FaultEvent{ev("partition", "link->nats", 30, 60.4)},
			[]reports.PhaseWindow{w("baseline", 0, 30), w("fault", 30, 60)}},
		{"no timeline (the schedule never ran): the plan", "faults: [{at: 20s, for: 10s, crash: link}]\n",
			nil,
			[]reports.PhaseWindow{w("baseline", 0, 20), w("fault", 20, 30), w("recovery", 30, 60)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc, err := Parse("p.yaml", []byte(base+c.faults))
			if err != nil {
				t.Fatal(err)
			}
			got := sc.RunPhases(c.timeline)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				g, w := got[i], c.want[i]
				if g.Name != w.Name || math.Abs(g.StartS-w.StartS) > 1e-6 || math.Abs(g.EndS-w.EndS) > 1e-6 {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
			if err := reports.CheckWindows(got); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSomethingCanFail: a scenario must hold a check that can fail in its fault phase (or,
// with no fault phase, an SLO that can fail), else it would pass whatever the system did.
func TestSomethingCanFail(t *testing.T) {
	const (
		head     = "name: c\nduration: 30s\nload: [{name: a, request: GET /healthz, rate: 5}]\n"
		fault    = "faults: [{at: 10s, for: 10s, edge: link->link-db, toxic: latency, latency: 300ms}]\n"
		refusal  = "nothing can fail"
		noFault  = "no fault phase"
		faultErr = "faults[0]: nothing can fail in the fault phase"
	)
	cases := []struct {
		name, doc, want string // want: "" accepted, else part of the error
	}{
		{"healthz only, no check (the issue's false pass)", head + fault + "expect: {data: {lost_links: 0, duplicate_clicks: 0}}\n", faultErr},
		{"SLO on baseline and recovery only", head + fault + "slos: [{load: a, phases: [baseline, recovery], thresholds: [errors<1%]}]\n", faultErr},
		{"only a rate threshold in the fault", head + fault + "slos: [{load: a, phases: [fault], thresholds: [rate>=4/s]}]\n", faultErr},
		{"empty blast radius", head + fault + "expect: {blast_radius: {}}\n", faultErr},
		{"empty mechanisms", head + fault + "expect: {mechanisms: {breakers: []}}\n", faultErr},
		{"negative control with nothing to fail", head + fault + "expect: {verdict: fail}\n", faultErr},
		{"no fault phase, no SLO", head, noFault},
		{"background fault only, rate SLO", head + "faults: [{at: 0s, for: 30s, edge: link->link-db, toxic: latency, latency: 3ms, background: true}]\nslos: [{load: a, thresholds: [rate>=4/s]}]\n", noFault},
		{"surge with no check", "name: c\nduration: 30s\nload: [{name: a, request: GET /healthz, stages: [{rate: 5, for: 10s}, {rate: 50, for: 10s}]}]\n", "load[0].stages: " + refusal},
		{"SLO on fault", head + fault + "slos: [{load: a, phases: [fault], thresholds: [p(99)<500ms]}]\n", ""},
		{"SLO on all by default", head + fault + "slos: [{load: a, thresholds: [goodput>=4/s]}]\n", ""},
		{"_ok latency counts (no success is no data)", head + fault + "slos: [{load: a, phases: [fault], thresholds: [p(99)_ok<1s]}]\n", ""},
		{"contained_to, even empty", head + fault + "expect: {blast_radius: {contained_to: []}}\n", ""},
		{"user impact", head + fault + "expect: {blast_radius: {user_impact: {a: 0%}}}\n", ""},
		{"unaffected", head + fault + "expect: {blast_radius: {unaffected: [billing]}}\n", ""},
		{"max affected", head + fault + "expect: {blast_radius: {max_affected_services: 1}}\n", ""},
		{"breaker", head + fault + "expect: {mechanisms: {breakers: [{edge: link->link-db}]}}\n", ""},
		{"retries", head + fault + "expect: {mechanisms: {max_retries_per_request: {link->link-db: 2}}}\n", ""},
		{"no fault phase, baseline SLO", head + "slos: [{load: a, phases: [baseline], thresholds: [errors<1%]}]\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(c.doc))
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestResolvedRoundTrip: the resolved dump parses back to the same scenario.
func TestResolvedRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	for _, f := range files {
		sc, err := ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		assertRoundTrip(t, sc)
		if _, err := sc.ResolvedJSON(); err != nil {
			t.Error(err)
		}
	}
}

func assertRoundTrip(t *testing.T, sc *Scenario) {
	t.Helper()
	y, err := sc.ResolvedYAML()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(sc.File, y)
	if err != nil {
		t.Fatalf("resolved YAML does not parse:\n%s\n%v", y, err)
	}
	a, _ := sc.ResolvedJSON()
	b, _ := again.ResolvedJSON()
	if !bytes.Equal(a, b) {
		t.Fatalf("round trip changed the scenario:\n%s\nvs\n%s", a, b)
	}
}

// TestFormatAcceptsTheTopology ties the format to system/topology: a fault may name every edge
// and every component of it, and nothing else.
func TestFormatAcceptsTheTopology(t *testing.T) {
	head := "name: t\nduration: 30s\nload: [{name: r, request: \"GET /r/{code}\", rate: 5}]\n" +
		"slos: [{load: r, phases: [fault], thresholds: [\"errors<1%\"]}]\n"
	parse := func(fault string) error {
		_, err := Parse("t.yaml", []byte(head+"faults: ["+fault+"]\n"))
		return err
	}
	for _, e := range topology.EdgeNames() {
		if err := parse("{at: 10s, for: 5s, edge: " + e + ", toxic: latency, latency: 100ms}"); err != nil {
			t.Errorf("edge %s refused: %v", e, err)
		}
	}
	for _, c := range topology.Components() {
		if err := parse("{at: 10s, for: 5s, pause: " + c + "}"); err != nil {
			t.Errorf("component %s refused: %v", c, err)
		}
	}
	if err := parse("{at: 10s, for: 5s, edge: link->redirect, toxic: latency, latency: 100ms}"); err == nil ||
		!strings.Contains(err.Error(), `unknown edge "link->redirect", expected one of: `+strings.Join(topology.EdgeNames(), ", ")) {
		t.Errorf("an edge outside the topology: %v", err)
	}
	if err := parse("{at: 10s, for: 5s, pause: client}"); err == nil || !strings.Contains(err.Error(), `unknown component "client"`) {
		t.Errorf("a component outside the topology: %v", err)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	good, _ := os.ReadFile("testdata/link-db-latency.good.yaml")
	bad, _ := os.ReadFile("testdata/unknown-keys.bad.yaml")
	os.WriteFile(filepath.Join(dir, "a.yaml"), good, 0o644)
	os.WriteFile(filepath.Join(dir, "b.yml"), bad, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644)
	got, err := LoadDir(dir)
	if len(got) != 1 || got[0].Name != "link-db-latency" {
		t.Errorf("got %d scenarios, want the good one", len(got))
	}
	if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "b.yml:2:1:") {
		t.Errorf("want the bad file's positioned error, got %v", err)
	}
}

func TestCodesDefaults(t *testing.T) {
	head := "name: c\nduration: 10s\n"
	cases := []struct {
		name  string
		body  string
		codes int
		links int
		err   string
	}{
		{"no setup", "load: [{name: r, request: \"GET /r/{code}\", rate: 5}]\n", 50, 50, ""},
		{"setup smaller than the default", "setup: {links: 40}\nload: [{name: r, request: \"GET /r/{code}\", rate: 5}]\n", 40, 40, ""},
		{"explicit codes", "load: [{name: r, request: \"GET /r/{code}\", rate: 5, codes: 7}]\n", 7, 7, ""},
		{"explicit codes over setup", "setup: {links: 5}\nload: [{name: r, request: \"GET /r/{code}\", rate: 5, codes: 7}]\n", 0, 0,
			"c.yaml:4:60: load[0].codes: expected at most setup.links (5) codes, got 7"},
		{"no links for a code stream", "setup: {links: 0}\nload: [{name: r, request: \"GET /r/{code}\", rate: 5}]\n", 0, 0,
			"c.yaml:4:8: load[0]: GET /r/{code} needs codes, expected setup.links > 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc, err := Parse("c.yaml", []byte(head+c.body+"slos: [{load: r, thresholds: [errors<1%]}]\n"))
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("got error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.Load[0].Codes != c.codes || sc.Setup.Links != c.links {
				t.Errorf("codes %d links %d, want %d and %d", sc.Load[0].Codes, sc.Setup.Links, c.codes, c.links)
			}
		})
	}
}

// TestCatalogue validates every scenario shipped in scenarios/*.yaml.
func TestCatalogue(t *testing.T) {
	all, err := LoadDir(".")
	if err != nil {
		t.Fatalf("catalogue has invalid scenarios:\n%v", err)
	}
	names := map[string]string{}
	for _, sc := range all {
		if prev, dup := names[sc.Name]; dup {
			t.Errorf("scenario name %q used by %s and %s", sc.Name, prev, sc.File)
		}
		names[sc.Name] = sc.File
		assertRoundTrip(t, sc)
	}
}

func TestSetupWarmCache(t *testing.T) {
	head := "name: c\nduration: 10s\nload: [{name: r, request: \"GET /r/{code}\", rate: 5}]\nslos: [{load: r, thresholds: [\"errors<1%\"]}]\n"
	cases := []struct {
		name, setup string
		warm        bool
	}{
		{"default warm", "", true},
		{"links only", "setup: {links: 60}\n", true},
		{"warm", "setup: {links: 60, warm_cache: true}\n", true},
		{"cold", "setup: {links: 60, warm_cache: false}\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc, err := Parse("c.yaml", []byte(head+c.setup))
			if err != nil {
				t.Fatal(err)
			}
			if sc.Setup.Warm() != c.warm {
				t.Errorf("warm = %v, want %v", sc.Setup.Warm(), c.warm)
			}
			assertRoundTrip(t, sc)
		})
	}
	if (Setup{}).Warm() != true {
		t.Error("a Setup built in code must default to a warm cache")
	}
}
