package main

import (
	"bytes"
	"context"
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
