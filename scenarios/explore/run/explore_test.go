package run

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports/rundir"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/explore"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

func needSystem(t *testing.T) string { return testbin.NeedSystem(t) }

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestExplorePower is the short budget of the explorer's verdict power (issue point 7) that
// CI runs: default explored once (a real baseline, then one experiment per mutant below), then
// each mutant with its own experiment on default's learned paths, each on one reused system;
// the mutant must show a weak spot default does not have, and its scenario file must be
// ready for the catalogue. make explore-power (TestExplorePowerAll) checks every mutant.
//   - no-fallback: link's quota check no longer fails open, so creation breaks when
//     billing refuses connections; default creates the link unchecked.
//   - no-outbox: link publishes after commit, best effort, so link-created events are lost
//     while link->nats is a blackhole; default's outbox relays them after the heal. (Refused
//     connections lose nothing: the NATS client buffers while it reconnects.)
//   - no-dedup: redirect publishes clicks without Nats-Msg-Id, so a publish retried after a
//     late ack is kept twice while redirect->nats is slower than the 2 s ack wait: the
//     queue path's idempotency, which default's dedup window keeps.
//
// unbounded-bulkhead (a surge, a load fault) left this short check on 2026-12-03: the
// experiment runs this 2-core machine at its capacity, and of 12 runs here the mutant was
// found in 6; in the others its collapse starved the load generator (p99 send lag 30-55 ms:
// invalid, so unproven) or default itself broke under the surge. The catalogue's
// overload.yaml, with longer phases, catches it in CI; make explore-power still tries it.
func TestExplorePower(t *testing.T) {
	bin := needSystem(t)
	var cases []PowerCase
	for _, c := range PowerCases {
		if c.Mutant == "no-fallback" || c.Mutant == "no-outbox" || c.Mutant == "no-dedup" {
			cases = append(cases, c)
		}
	}
	rows := power(t, bin, cases)
	for _, r := range rows {
		if len(r.Found) == 0 {
			t.Errorf("%s: MISSED: %s", r.Mutant, r.Missed)
		}
	}
}

// TestExplorePowerAll is make explore-power: every protection mutant, a table mutant →
// distinguishing weak spot or MISSED. It runs only when EXPLORE_POWER_ALL is set (it takes
// ~5 minutes); EXPLORE_POWER=a,b narrows it to some mutants (to split it into short jobs).
// A mutant the vocabulary cannot express is MISSED with its reason and does not fail the
// test; one it can express and misses does.
func TestExplorePowerAll(t *testing.T) {
	if os.Getenv("EXPLORE_POWER_ALL") == "" {
		t.Skip("set EXPLORE_POWER_ALL=1 (make explore-power)")
	}
	bin := needSystem(t)
	var cases []PowerCase
	for _, c := range PowerCases {
		if f := os.Getenv("EXPLORE_POWER"); f == "" || slices.Contains(strings.Split(f, ","), c.Mutant) {
			cases = append(cases, c)
		}
	}
	for _, r := range power(t, bin, cases) {
		if len(r.Found) == 0 && len(r.Ran) > 0 {
			t.Errorf("%s: MISSED: %s", r.Mutant, r.Missed)
		}
	}
}

func power(t *testing.T, bin string, cases []PowerCase) []PowerRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	out := t.TempDir()
	if d := os.Getenv("EXPLORE_POWER_OUT"); d != "" {
		out = d
	}
	begin := time.Now()
	rows, exs, err := Power(ctx, Options{Base: explore.DefaultBase(), Seed: 1, OutDir: out, Binary: bin, Log: testLog{t}}, cases)
	if err != nil {
		t.Error(err)
	}
	t.Logf("power check of %d mutants in %s:\n%s", len(cases), time.Since(begin).Round(time.Second), PowerTable(rows))
	for _, r := range rows {
		mut := exs[r.Mutant]
		for _, id := range r.Found {
			// the weak spot's scenario is a catalogue file that expects the design's behaviour
			file := filepath.Join(out, r.Mutant, mut.Scenarios[id])
			sc, err := scenarios.ParseFile(file)
			if err != nil {
				t.Errorf("%s: the weak spot's scenario: %v", r.Mutant, err)
				continue
			}
			// each fault of the id is in the file: a surge as its stream's stages, the others as faults
			surged := 0
			for _, st := range sc.Load {
				if len(st.Surges(sc.Duration.D())) > 0 {
					surged++
				}
			}
			if sc.Expect.Verdict != "pass" || sc.Profile != r.Mutant || len(sc.Faults)+surged != len(strings.Split(id, "+")) {
				t.Errorf("%s: weak spot scenario %+v", r.Mutant, sc)
			}
		}
		if mut != nil && !strings.Contains(mut.MapSource, "baseline of profile "+r.Against) {
			t.Errorf("%s planned from %q, want %s's baseline", r.Mutant, mut.MapSource, r.Against)
		}
	}
	for dir, ex := range exs { // keyed by directory: a mutant, or a base (profile+scenario)
		if ex.Explored == 1 && ex.Systems != 1 {
			t.Errorf("%s: %d systems for one experiment, want 1 (the baseline's, reused)", dir, ex.Systems)
		}
		for _, f := range []string{HTMLFile, MarkdownFile, JSONFile} {
			if _, err := os.Stat(filepath.Join(out, dir, f)); err != nil {
				t.Error(err)
			}
		}
	}
	for _, st := range lab.Running(lab.DefaultStateDir()) {
		if strings.HasPrefix(st.Dir, out) {
			t.Errorf("a system of the power check is still running: %s (pid %d)", st.Dir, st.Pid)
		}
	}
	return rows
}

// cancelOn cancels 4 s after a line containing mark is logged: mid-experiment, in its fault
// phase (an experiment is setup 0.2 s, then 2.5 s of baseline, 2.5 s of fault, 2.5 s of
// recovery with the built-in load).
type cancelOn struct {
	t      *testing.T
	mark   string
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.t.Log(strings.TrimRight(string(p), "\n"))
	if strings.Contains(string(p), c.mark) {
		c.once.Do(func() { time.AfterFunc(4*time.Second, c.cancel) })
	}
	return len(p), nil
}

// TestExploreInterrupt: Ctrl-C in the middle of an experiment heals its fault, stops the
// system, keeps what finished (the baseline's map, the report) and counts the interrupted
// experiment as not run.
func TestExploreInterrupt(t *testing.T) {
	bin := needSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ictx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	out := t.TempDir()
	rep, err := Session(ictx, Options{Base: explore.DefaultBase(), Seed: 1, Targets: []string{"link->billing"},
		Classes: []string{explore.ClassBeyond, explore.ClassRefused}, OutDir: out, Binary: bin,
		Log: &cancelOn{t: t, mark: "experiment 1 of", cancel: interrupt}}, []string{"default"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want the interruption", err)
	}
	ex := rep.Explorations[0]
	if !ex.Interrupted || ex.Explored != 0 || ex.Planned != 2 {
		t.Errorf("interrupted %v, explored %d of %d planned; want true, 0 of 2", ex.Interrupted, ex.Explored, ex.Planned)
	}
	for _, f := range []string{HTMLFile, MarkdownFile, JSONFile, "pathmap.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	for _, st := range lab.Running(lab.DefaultStateDir()) {
		if strings.HasPrefix(st.Dir, out) {
			t.Errorf("a system of the exploration is still running: %s (pid %d)", st.Dir, st.Pid)
		}
	}
	// the experiment's fault was healed by its own undo before the system stopped
	files, _ := filepath.Glob(filepath.Join(out, "experiments", "001-*", "timeline.json"))
	if len(files) != 1 {
		t.Fatalf("the interrupted experiment left %d timelines", len(files))
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var tl rundir.Timeline
	if err := json.Unmarshal(b, &tl); err != nil {
		t.Fatal(err)
	}
	if len(tl.Faults) != 1 || tl.Faults[0].AppliedAt < 0 || tl.Faults[0].HealedAt < 0 {
		t.Errorf("the interrupted experiment's fault was not applied and healed: %s", b)
	}
}
