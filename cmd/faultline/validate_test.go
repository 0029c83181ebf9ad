package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout string
	}{
		{"good file", []string{"validate", "../../scenarios/testdata/link-db-latency.good.yaml"}, exitOK,
			[]string{"ok ../../scenarios/testdata/link-db-latency.good.yaml"}, nil, ""},
		{"bad file", []string{"validate", "../../scenarios/testdata/topology.bad.yaml"}, exitUsage,
			nil, []string{"topology.bad.yaml:6:29: faults[0].edge: unknown edge", "1 of 1 files invalid"}, "ok"},
		{"directory mixes", []string{"validate", "../../scenarios/testdata"}, exitUsage,
			[]string{"ok ../../scenarios/testdata/full.good.yaml"}, []string{"wrong-types.bad.yaml:2:7:"}, ""},
		{"nothing can fail", []string{"validate", "../../scenarios/testdata/nothing-can-fail.bad.yaml"}, exitUsage,
			nil, []string{"nothing-can-fail.bad.yaml:9:5: faults[0]: nothing can fail in the fault phase"}, "ok"},
		{"missing file", []string{"validate", "nope.yaml"}, exitUsage, nil, []string{"nope.yaml"}, ""},
		{"no args", []string{"validate"}, exitUsage, nil, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), c.args, &out, &errOut)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out.String(), errOut.String())
			}
			for _, s := range c.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range c.stderr {
				if !strings.Contains(errOut.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut.String())
				}
			}
			if c.noStdout != "" && strings.Contains(out.String(), c.noStdout) {
				t.Errorf("stdout has %q:\n%s", c.noStdout, out.String())
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

// TestValidateExplainGolden: --explain prints, per stream, the route, the derivation of its
// worst case from the profile and each threshold against it.
func TestValidateExplainGolden(t *testing.T) {
	for _, name := range []string{"link-db-latency", "link-gray-failure"} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"validate", "--explain", "../../scenarios/" + name + ".yaml"}, &out, &errOut); code != exitOK {
				t.Fatalf("exit %d\nstderr: %s", code, errOut.String())
			}
			if errOut.Len() > 0 {
				t.Errorf("a catalogue scenario warned:\n%s", errOut.String())
			}
			path := filepath.Join("testdata", "explain-"+name+".golden")
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("--explain differs from %s:\n%s", path, out.String())
			}
		})
	}
}

// TestValidateWarnsLooseThresholds: a ceiling looser than the design bound is a warning at
// its FILE:LINE:COL, exit 0; --strict makes it exit 1; a tight one is not warned about.
func TestValidateWarnsLooseThresholds(t *testing.T) {
	const file = "testdata/loose-threshold.yaml"
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"warning only", []string{"validate", file}, exitOK},
		{"strict", []string{"validate", "--strict", file}, exitMismatch},
		{"explain", []string{"validate", "--explain", file}, exitOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), c.args, &out, &errOut); code != c.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, c.code, errOut.String())
			}
			warning := file + `:12:18: warning: slos[0].thresholds[0]: "p(99)<2s" on stream redirect (fault) is looser than the design's worst case 1.01s on route redirect (+101ms tolerance): slowness alone cannot fail it`
			if !strings.Contains(errOut.String(), warning) {
				t.Errorf("stderr lacks\n%s\ngot:\n%s", warning, errOut.String())
			}
			if n := strings.Count(errOut.String(), "warning:"); n != 1 {
				t.Errorf("%d warnings, want 1 (p(99)<1s is within 1.01s):\n%s", n, errOut.String())
			}
			if !strings.Contains(out.String(), "ok "+file) {
				t.Errorf("stdout lacks ok:\n%s", out.String())
			}
		})
	}
	// Under profile none nothing is bounded but the load generator's 5 s timeout.
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"validate", "--strict", "--profile", "none", file}, &out, &errOut); code != exitOK {
		t.Errorf("--profile none: exit %d\nstderr: %s", code, errOut.String())
	}
	if code := run(context.Background(), []string{"validate", "--strict", "--profile", "nope", file}, &out, &errOut); code != exitMismatch ||
		!strings.Contains(errOut.String(), "warning: design bounds not derived: profile:") {
		t.Errorf("--profile nope: exit %d\nstderr: %s", code, errOut.String())
	}
}
