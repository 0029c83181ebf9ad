package main

import (
	"strings"
	"testing"
)

func TestMutateUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"no argument", []string{"mutate"}},
		{"missing file", []string{"mutate", "testdata/does-not-exist.yaml"}},
		{"unknown mutant", []string{"mutate", "../../scenarios/testdata/controls.bad.yaml"}},
		{"unknown flag", []string{"mutate", "--frobnicate", "../../scenarios/smoke.yaml"}},
		{"negative repeat", []string{"mutate", "--repeat", "-1", "../../scenarios/smoke.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			if got := run(t.Context(), c.args, &out, &errOut); got != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", got, exitUsage, errOut.String())
			}
		})
	}
}

func TestMutateCodeUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"code mutant without --code", []string{"mutate", "--mutants", "timeout-not-applied", "../../scenarios/smoke.yaml"}},
		{"unknown mutant", []string{"mutate", "--code", "--mutants", "no-such-bug", "../../scenarios/smoke.yaml"}},
		{"unknown code control", []string{"mutate", "--code", "../../scenarios/testdata/code-controls.bad.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			if got := run(t.Context(), c.args, &out, &errOut); got != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", got, exitUsage, errOut.String())
			}
		})
	}
}
