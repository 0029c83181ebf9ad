package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/rundir"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/system/policy"
)

func TestTournamentUsage(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		o    tournamentOptions
		want string
	}{
		{"one profile", []string{"x.yaml"}, tournamentOptions{profiles: "default", repeat: 2}, "at least two"},
		{"repeat 0", []string{"x.yaml"}, tournamentOptions{profiles: "default,adaptive", repeat: 0}, "--repeat"},
		{"unknown profile", []string{"x.yaml"}, tournamentOptions{profiles: "default,nope", repeat: 1}, "nope"},
		{"missing scenario", []string{"/no/such.yaml"}, tournamentOptions{profiles: "default,adaptive", repeat: 1}, "such.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := runTournament(context.Background(), c.args, c.o, io.Discard, io.Discard)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a usage error naming %q", err, c.want)
			}
		})
	}
}

// The command plays every profile with the scenario's seed and writes both reports; a run
// that did not finish makes the exit "not as expected".
func TestTournamentRunsAndWrites(t *testing.T) {
	old := runSeeded
	defer func() { runSeeded = old }()
	var seeds []int64
	runSeeded = func(_ context.Context, _, profile string, seed int64, dir string, _ io.Writer) (*reports.Results, error) {
		seeds = append(seeds, seed)
		if profile == "no-budget" {
			return nil, errors.New("lab did not start")
		}
		return &reports.Results{Scenario: "overload", Profile: profile, Valid: true, Verdict: reports.VerdictPass}, nil
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	err := runTournament(context.Background(), []string{"../../scenarios/overload.yaml"},
		tournamentOptions{profiles: "default,adaptive,no-budget", repeat: 1, out: out}, &stdout, io.Discard)
	if !errors.Is(err, errMismatch) {
		t.Fatalf("err = %v, want errMismatch for the run that did not finish", err)
	}
	if len(seeds) != 3 || seeds[0] != 67 || seeds[1] != 67 || seeds[2] != 67 {
		t.Errorf("seeds = %v, want the scenario's 67 for every profile", seeds)
	}
	md, err := os.ReadFile(filepath.Join(out, "tournament.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "not counted: no-budget repeat 1") {
		t.Errorf("tournament.md does not list the failed run:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(out, "tournament.html")); err != nil {
		t.Error(err)
	}
}

// --resume reads a run finished with the same scenario, profile and seed, and runs again one
// whose scenario changed since or that ran another seed.
func TestTournamentResume(t *testing.T) {
	old := runSeeded
	defer func() { runSeeded = old }()
	src, err := os.ReadFile("../../scenarios/overload.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "overload.yaml")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	var ran []string
	runSeeded = func(_ context.Context, f, profile string, seed int64, dir string, _ io.Writer) (*reports.Results, error) {
		ran = append(ran, profile)
		sc, err := scenarios.ParseFile(f)
		if err != nil {
			return nil, err
		}
		sc.Seed = seed
		b, err := sc.ResolvedYAML()
		if err != nil {
			return nil, err
		}
		res := &reports.Results{Scenario: "overload", Profile: profile, Seed: seed, Valid: true, Verdict: reports.VerdictPass}
		if p, err := policy.Load(profile); err == nil {
			res.ProfileDigest = policy.Digest(p) // as the runner records it
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		return res, rundir.Write(dir, rundir.Record{Scenario: b, Results: res})
	}
	out := t.TempDir()
	o := tournamentOptions{profiles: "default,adaptive", repeat: 1, out: out, resume: true}
	play := func() []string {
		ran = nil
		if err := runTournament(context.Background(), []string{file}, o, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		return ran
	}
	if got := play(); len(got) != 2 {
		t.Fatalf("first play ran %v, want both profiles", got)
	}
	if got := play(); len(got) != 0 {
		t.Errorf("second play ran %v again, want both read back", got)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(src), "errors<1%", "errors<2%", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := play(); len(got) != 2 {
		t.Errorf("after the scenario changed it ran %v, want both again", got)
	}
	o.resume = false
	if got := play(); len(got) != 2 {
		t.Errorf("without --resume it ran %v, want both", got)
	}
	// A profile file edited since its run: that profile runs again, the other is read back.
	prof, err := os.ReadFile("../../system/profiles/adaptive.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pfile := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(pfile, prof, 0o644); err != nil {
		t.Fatal(err)
	}
	o.profiles, o.resume = "default,"+pfile, true
	if got := play(); len(got) != 1 || got[0] != pfile {
		t.Fatalf("a new profile file: ran %v, want it alone", got)
	}
	edited := strings.Replace(string(prof), "max_rate: 0.2", "max_rate: 0.3", 1)
	if edited == string(prof) {
		t.Fatal("the test's edit matched nothing in adaptive.yaml")
	}
	if err := os.WriteFile(pfile, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := play(); len(got) != 1 || got[0] != pfile {
		t.Errorf("after the profile file changed it ran %v, want that profile alone", got)
	}
}
