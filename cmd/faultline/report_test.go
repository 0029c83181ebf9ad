package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtureRun = "../../reports/html/testdata/run"

// copyRun copies the fixture run directory (without samples.csv when lean) into a temp dir.
func copyRun(t *testing.T, lean bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"results.json", "scenario.yaml", "samples.csv"} {
		if lean && f == "samples.csv" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(fixtureRun, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestReportCommand(t *testing.T) {
	dir := copyRun(t, false)
	tests := []struct {
		name     string
		args     []string
		code     int
		file     string // expected output file, relative to dir
		inStdout string
		inStderr string
	}{
		{"default html", []string{"report", dir}, exitOK, "report.html", "", "report.html"},
		{"html to a file", []string{"report", dir, "--out", filepath.Join(dir, "x", "r.html")}, exitOK, "x/r.html", "", ""},
		{"html to stdout", []string{"report", dir, "--out", "-"}, exitOK, "", "<!DOCTYPE html>", ""},
		{"unknown format", []string{"report", dir, "--format", "pdf"}, exitUsage, "", "", "unknown format"},
		{"markdown", []string{"report", dir, "--format", "md", "--out", "-"}, exitOK, "", "link-db-latency", ""},
		{"junit", []string{"report", dir, "--format", "junit", "--out", "-"}, exitOK, "", "<testsuite", ""},
		{"json", []string{"report", dir, "--format", "json"}, exitOK, "report.json", "", "report.json"},
		{"not a run dir", []string{"report", t.TempDir()}, exitUsage, "", "", "not a run directory"},
		{"no argument", []string{"report"}, exitUsage, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := cli(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errs)
			}
			if !strings.Contains(out, tt.inStdout) || !strings.Contains(errs, tt.inStderr) {
				t.Errorf("stdout %.100q / stderr %q, want %q / %q", out, errs, tt.inStdout, tt.inStderr)
			}
			if tt.file != "" {
				b, err := os.ReadFile(filepath.Join(dir, tt.file))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), "link-db-latency") {
					t.Error("written report lacks the scenario name")
				}
				if strings.HasSuffix(tt.file, ".html") && !strings.Contains(string(b), "<svg") {
					t.Error("HTML report without charts")
				}
			}
		})
	}
}
