package run

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/lab"
	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/explore"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

func needSystem(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	for _, find := range []func() (string, error){localserver.PostgresBinDir, localserver.RedisBinary} {
		if _, err := find(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%v (run make deps)", err)
			}
			t.Skip(err)
		}
	}
	bin, err := testbin.Path()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestExplorePower is the explorer's verdict power (issue point 7): within a budget of one
// fault class on one edge, it reports for a protection mutant a weak spot the default
// profile does not have, on one reused system per profile, from a real baseline's paths.
//   - no-fallback: link's quota check no longer fails open, so creation breaks when
//     billing refuses connections; default creates the link unchecked.
//   - no-outbox: link publishes after commit, best effort, so link-created events are lost
//     while link->nats is a blackhole; default's outbox relays them after the heal. (Refused
//     connections lose nothing: the NATS client buffers while it reconnects.)
func TestExplorePower(t *testing.T) {
	bin := needSystem(t)
	cases := []struct {
		mutant, target, fault, stream, class string
	}{
		{"no-fallback", "link->billing", explore.ClassRefused, "create", rexplore.Broken},
		{"no-outbox", "link->nats", explore.ClassBlackhole, "create", rexplore.DataLost},
	}
	for _, c := range cases {
		t.Run(c.mutant, func(t *testing.T) {
			if f := os.Getenv("EXPLORE_POWER"); f != "" && !slices.Contains(strings.Split(f, ","), c.mutant) {
				t.Skip("not in EXPLORE_POWER")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			out := t.TempDir()
			rep, err := Session(ctx, Options{Base: explore.DefaultBase(), Seed: 1, Targets: []string{c.target},
				Classes: []string{c.fault}, OutDir: out, Binary: bin, Log: testLog{t}}, []string{"default", c.mutant})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Explorations) != 2 || len(rep.Diffs) != 1 {
				t.Fatalf("%d explorations, %d diffs", len(rep.Explorations), len(rep.Diffs))
			}
			id := c.fault + "@" + c.target
			def, mut := rep.Explorations[0], rep.Explorations[1]
			for _, ex := range rep.Explorations {
				if ex.Explored != 1 || ex.Systems != 1 {
					t.Errorf("%s: explored %d on %d systems, want 1 on 1", ex.Profile, ex.Explored, ex.Systems)
				}
			}
			if got := mut.Outcomes[0].Streams[c.stream].Class; got != c.class {
				t.Errorf("%s under %s: %s %s, want %s (%+v)", id, c.mutant, c.stream, got, c.class, mut.Outcomes[0])
			}
			if got := def.Outcomes[0].Streams[c.stream].Class; got != rexplore.Held {
				t.Errorf("%s under default: %s %s, want held (%+v)", id, c.stream, got, def.Outcomes[0])
			}
			if d := rep.Diffs[0]; !slices.Contains(d.OnlyB, id) {
				t.Errorf("the diff does not show %s as %s's own weak spot: %+v", id, c.mutant, d)
			}
			// the weak spot's scenario is a catalogue file that expects the design's behaviour
			file := filepath.Join(out, mut.Scenarios[id])
			sc, err := scenarios.ParseFile(file)
			if err != nil {
				t.Fatalf("the weak spot's scenario: %v", err)
			}
			if sc.Expect.Verdict != "pass" || sc.Profile != c.mutant || len(sc.Faults) != 1 || sc.Faults[0].Target() != c.target {
				t.Errorf("weak spot scenario %+v", sc)
			}
			// the second profile planned from the first one's learned paths
			if !strings.Contains(mut.MapSource, "baseline of profile default") {
				t.Errorf("map source %q", mut.MapSource)
			}
			for _, f := range []string{HTMLFile, MarkdownFile, JSONFile} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
			for _, st := range lab.Running(lab.DefaultStateDir()) {
				if strings.HasPrefix(st.Dir, out) {
					t.Errorf("a system of the exploration is still running: %s (pid %d)", st.Dir, st.Pid)
				}
			}
		})
	}
}
