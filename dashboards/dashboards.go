// Package dashboards holds the Grafana dashboards of the system (one JSON file each, uid = file
// name) and reads their PromQL so tests can check names and run the queries.
package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Dashboard is the part of a Grafana dashboard the checks need.
type Dashboard struct {
	File        string `json:"-"`
	UID         string `json:"uid"`
	Title       string `json:"title"`
	Panels      []Panel
	Annotations struct {
		List []Annotation `json:"list"`
	} `json:"annotations"`
}

// Panel is one Grafana panel with its queries.
type Panel struct {
	ID         int        `json:"id"`
	Title      string     `json:"title"`
	Type       string     `json:"type"`
	Datasource Datasource `json:"datasource"`
	Targets    []Target   `json:"targets"`
}

// Target is one query of a panel.
type Target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

// Annotation is one annotation query; Expr is empty for Grafana's own (tag) annotations.
type Annotation struct {
	Name       string     `json:"name"`
	Datasource Datasource `json:"datasource"`
	Expr       string     `json:"expr"`
}

// Datasource names a Grafana data source by type and uid.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// ErrInvalid marks a dashboard file that breaks a rule of this folder.
var ErrInvalid = errors.New("dashboards: invalid")

// Load reads every *.json in dir, sorted by name, and checks the folder's rules: uid = file
// name, a title, panels with unique ids, each with at least one PromQL query on a Prometheus
// data source.
func Load(dir string) ([]Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	sort.Strings(files)
	var out []Dashboard
	var errs []error
	for _, f := range files {
		d, err := parse(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

func parse(file string) (Dashboard, error) {
	var d Dashboard
	b, err := os.ReadFile(file)
	if err != nil {
		return d, fmt.Errorf("dashboards: %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	d.File = file
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: "+format, append([]any{ErrInvalid, filepath.Base(file)}, args...)...))
	}
	if want := strings.TrimSuffix(filepath.Base(file), ".json"); d.UID != want {
		bad("uid %q, want the file name %q", d.UID, want)
	}
	if d.Title == "" {
		bad("no title")
	}
	if len(d.Panels) == 0 {
		bad("no panels")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			bad("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Datasource.Type != "prometheus" || p.Datasource.UID != "prometheus" {
			bad("panel %q: data source %+v, want the provisioned prometheus", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			bad("panel %q has no query", p.Title)
		}
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) == "" {
				bad("panel %q query %s is empty", p.Title, t.RefID)
			}
		}
	}
	return d, errors.Join(errs...)
}

// Exprs lists every PromQL expression of a dashboard: panel queries first, then annotations.
func (d Dashboard) Exprs() []string {
	var out []string
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, t.Expr)
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out = append(out, a.Expr)
		}
	}
	return out
}

var (
	stringLit  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	matchers   = regexp.MustCompile(`\{[^{}]*\}`)
	ranges     = regexp.MustCompile(`\[[^\[\]]*\]`)
	labelLists = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	ident      = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	// keywords are PromQL words that are not metric names.
	keywords = map[string]bool{"and": true, "or": true, "unless": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "offset": true,
		"bool": true, "atan2": true, "inf": true, "nan": true}
)

// MetricNames returns the metric names an expression selects (identifiers that are neither
// functions, aggregations, keywords, label names nor inside strings), sorted and unique.
func MetricNames(expr string) []string {
	s := stringLit.ReplaceAllString(expr, `""`)
	s = matchers.ReplaceAllString(s, "{}")
	s = ranges.ReplaceAllString(s, "[]")
	s = labelLists.ReplaceAllString(s, " ")
	seen := map[string]bool{}
	for _, loc := range ident.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || keywords[strings.ToLower(name)] {
			continue // a function or aggregation call, or a keyword
		}
		if loc[0] > 0 && isNumberPart(s[loc[0]-1]) {
			continue // the exponent or suffix of a number such as 1e3
		}
		seen[name] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func isNumberPart(c byte) bool { return c >= '0' && c <= '9' || c == '.' }
