package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/atomicfile"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html"
	"github.com/faultline/faultline/reports/rundir"
)

func init() { commands = append(commands, newReportCmd) }

// reportFormats lists what `faultline report --format` accepts; a nil renderer would be a
// format whose renderer is not in this build.
var reportFormats = map[string]struct {
	ext    string
	render func(w io.Writer, run *rundir.Run) error
}{
	"html":  {".html", html.RenderRun},
	"md":    {".md", func(w io.Writer, run *rundir.Run) error { return reports.WriteMarkdown(w, run.Results) }},
	"json":  {".json", func(w io.Writer, run *rundir.Run) error { return reports.WriteJSON(w, run.Results) }},
	"junit": {".xml", func(w io.Writer, run *rundir.Run) error { return reports.WriteJUnit(w, run.Results) }},
}

type reportOptions struct {
	format string
	out    string
}

func newReportCmd() *cobra.Command {
	var o reportOptions
	c := &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Render a finished run's report (HTML, Markdown, JSON or JUnit) from its run directory",
		Long: `Render a report from a run directory alone (results.json, plus samples.csv and scenario.yaml
when present). The default is a self-contained HTML page written to RUN_DIR/report.html: charts
inline, no scripts, no network, printable. --out - writes to standard output.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := runReport(args[0], o, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if path != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "report:", path)
			}
			return nil
		},
	}
	c.Flags().StringVar(&o.format, "format", "html", "html, md, json or junit")
	c.Flags().StringVar(&o.out, "out", "", "output file (default RUN_DIR/report.<ext>; - for standard output)")
	return c
}

// runReport renders one report and returns the file written ("" for standard output).
func runReport(dir string, o reportOptions, stdout io.Writer) (string, error) {
	f, ok := reportFormats[o.format]
	if !ok {
		return "", usageError{fmt.Errorf("report: unknown format %q (want html, md, json or junit)", o.format)}
	}
	if f.render == nil {
		return "", fmt.Errorf("report: format %q is not available in this build yet (its renderer in package reports is still being written); use --format html", o.format)
	}
	run, err := rundir.Load(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", usageError{fmt.Errorf("report: %s is not a run directory (no %s): %w", dir, rundir.ResultsFile, fs.ErrNotExist)}
		}
		return "", err
	}
	var buf bytes.Buffer
	if err := f.render(&buf, run); err != nil {
		return "", err
	}
	out := o.out
	switch out {
	case "-":
		_, err := stdout.Write(buf.Bytes())
		return "", err
	case "":
		out = filepath.Join(dir, "report"+f.ext)
	}
	if err := writeFileAtomic(out, buf.Bytes()); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return out, nil
}

// writeFileAtomic writes through a temporary file so a reader never sees half a report.
func writeFileAtomic(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
