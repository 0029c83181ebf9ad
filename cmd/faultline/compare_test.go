package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/faultline/faultline/reports"
)

func TestCompareFinishedRuns(t *testing.T) {
	a, b := copyRun(t, false), copyRun(t, true)
	// Make b a different profile with a better fault phase, as another run would be.
	var res reports.Results
	raw, _ := os.ReadFile(filepath.Join(b, "results.json"))
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	res.Profile = "aggressive"
	for i := range res.Streams {
		for j := range res.Streams[i].Phases {
			res.Streams[i].Phases[j].P99Ms /= 4
			ok := res.Streams[i].Phases[j].P99Ms // compare ranks the p99 of successes
			res.Streams[i].Phases[j].OKP99Ms = &ok
		}
	}
	raw, _ = json.Marshal(res)
	if err := os.WriteFile(filepath.Join(b, "results.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cmp")
	code, stdout, stderr := cli(t, "compare", a, b, "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	md, err := os.ReadFile(filepath.Join(out, "compare.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"| phase | metric | default | aggressive | call |", "best: aggressive", "Winner rule"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("compare.md misses %q", w)
		}
	}
	page, err := os.ReadFile(filepath.Join(out, "compare.html"))
	if err != nil || !strings.Contains(string(page), "<svg") {
		t.Errorf("compare.html missing or without charts: %v", err)
	}
	if !strings.Contains(stdout, "compare.html") {
		t.Errorf("stdout does not name the outputs: %q", stdout)
	}
	code, _, stderr = cli(t, "compare", a, b, "--labels", "x", "--out", out)
	if code != exitUsage || !strings.Contains(stderr, "1 labels for 2 runs") {
		t.Errorf("label count mismatch: exit %d, %s", code, stderr)
	}
	code, _, _ = cli(t, "compare", t.TempDir(), "--out", out)
	if code != exitUsage {
		t.Errorf("a directory without results.json: exit %d, want %d", code, exitUsage)
	}
}

func writeScenario(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte("name: s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompareRunningForm(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join(fixtureRun, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	fake := func(ctx context.Context, file, profile, outDir string, log io.Writer) (*reports.Results, error) {
		calls = append(calls, profile+" "+filepath.Base(outDir))
		var r reports.Results
		if err := json.Unmarshal(fixture, &r); err != nil {
			return nil, err
		}
		r.Profile = profile
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(r)
		if profile == "broken" {
			return nil, errors.New("runner: lab did not start")
		}
		return &r, os.WriteFile(filepath.Join(outDir, "results.json"), b, 0o644)
	}
	sc := writeScenario(t)
	old := runScenario
	t.Cleanup(func() { runScenario = old })

	runScenario = nil
	code, _, stderr := cli(t, "compare", sc, "--profiles", "default,aggressive", "--out", t.TempDir())
	if code != exitMismatch || !strings.Contains(stderr, "runner not available") {
		t.Errorf("without a runner: exit %d, %s", code, stderr)
	}

	runScenario = fake
	out := t.TempDir()
	code, _, stderr = cli(t, "compare", sc, "--profiles", "default,aggressive,broken", "--repeat", "2", "--out", out)
	if code != exitMismatch || !strings.Contains(stderr, "2 run(s) failed") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{"default default-1", "default default-2", "aggressive aggressive-1", "aggressive aggressive-2", "broken broken-1", "broken broken-2"}
	if strings.Join(calls, ";") != strings.Join(want, ";") {
		t.Errorf("runs = %q, want %q", calls, want)
	}
	if !strings.Contains(stderr, "broken #1: runner: lab did not start") {
		t.Errorf("a failed run is not reported: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "runs", "default-1", "report.html")); err != nil {
		t.Errorf("per-run report not rendered: %v", err)
	}
	md, _ := os.ReadFile(filepath.Join(out, "compare.md"))
	if !strings.Contains(string(md), "(n=2)") {
		t.Errorf("repeats not summarised:\n%s", md)
	}

	for _, bad := range [][]string{
		{"compare", sc},
		{"compare", sc, "--profiles", "a", "--sweep", "x=1"},
		{"compare", sc, "--profiles", "a", "--repeat", "0"},
		{"compare", t.TempDir(), "--profiles", "a"},
	} {
		if code, _, _ := cli(t, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
}

// TestSweepUsageErrors: a bad --sweep, --edge or --base-profile is the user's error (exit 2).
func TestSweepUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ spec, edge, base, want string }{
		{"circuit_breaker.failure_ratio", "", "default", "want PARAM="},
		{"circuit_breaker.failure_ratio=0.3", "nope->x", "default", "no edge"},
		{"nonexistent_policy.x=1", "", "default", "no edge of the profile has"},
		{"x=1", "", "no-such-profile", "neither a file nor a built-in"},
	} {
		_, err := sweepProfiles(tt.spec, tt.edge, tt.base, dir)
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("sweepProfiles(%q, %q, %q) = %v, want usage error with %q", tt.spec, tt.edge, tt.base, err, tt.want)
		}
	}
}

func FuzzSweepSpec(f *testing.F) {
	f.Add("circuit_breaker.failure_ratio=0.3,0.5", "redirect->link")
	f.Add("edges.redirect->link.timeout=1s", "")
	f.Add("name={a: [1,2]}", "")
	f.Add("=,,", "x")
	f.Fuzz(func(t *testing.T, spec, edge string) {
		if len(spec) > 200 || strings.Count(spec, ",") > 5 {
			return // bound the files one input may write
		}
		vs, err := sweepProfiles(spec, edge, "default", t.TempDir())
		var ue usageError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("%q: error is not a usage error: %v", spec, err)
		}
		for _, v := range vs {
			raw, err := os.ReadFile(v.Profile)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(raw, &doc); err != nil {
				t.Errorf("%q: derived profile does not parse back: %v", spec, err)
			}
		}
	})
}
