// Package mutants holds the code mutants of the system (small deliberate bugs in its resilience code, one patch each) and builds a faultline binary from each, for `faultline mutate --code`.
package mutants

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
)

// The patches live beside the catalogue that lists them, not under system/: they are lab
// apparatus, and nothing of them may reach the services' normal build.
//
//go:embed *.patch
var patchFS embed.FS

// Policies a mutant may name: the resilience mechanism its bug breaks.
var Policies = []string{"timeout", "retry", "breaker", "bulkhead", "rate-limit", "fallback", "outbox", "consumer", "dedup"}

// Mutant is one patch with its header.
type Mutant struct {
	Name     string // the file name without .patch
	Policy   string // one of Policies
	Bug      string // the bug, in one sentence
	CaughtBy string // "SCENARIO: check; SCENARIO: check": who must catch it, through what
	// Scenarios are the scenario names CaughtBy gives, in its order.
	Scenarios []string
	// Patch is the whole file: git apply skips the header before the first "diff --git".
	Patch []byte
}

// header keys, in the order a patch file gives them.
var headerKeys = []string{"Mutant", "Policy", "Bug", "Caught-by"}

// Parse reads one patch file: a header of "Key: value" lines (a line starting with white
// space continues the previous value) ended by a blank line, then a git diff.
func Parse(file string, data []byte) (Mutant, error) {
	m := Mutant{Name: strings.TrimSuffix(path.Base(file), ".patch"), Patch: data}
	errf := func(line int, format string, args ...any) (Mutant, error) {
		return Mutant{}, fmt.Errorf("mutants: %s:%d: %s", file, line, fmt.Sprintf(format, args...))
	}
	values := map[string]*string{"Mutant": new(string), "Policy": &m.Policy, "Bug": &m.Bug, "Caught-by": &m.CaughtBy}
	seen := map[string]bool{}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(data))
	line, diffAt := 0, 0
	for sc.Scan() {
		line++
		text := sc.Text()
		switch {
		case strings.TrimSpace(text) == "":
			if line == 1 {
				return errf(line, "expected the header (%s) before the diff", strings.Join(headerKeys, ", "))
			}
		case text[0] == ' ' || text[0] == '\t':
			if last == "" {
				return errf(line, "continuation line before any header key")
			}
			*values[last] += " " + strings.TrimSpace(text)
			continue
		case strings.HasPrefix(text, "diff --git "):
			diffAt = line
		case strings.HasPrefix(text, "---") || strings.HasPrefix(text, "+++"):
			return errf(line, "a header line may not start with %q (git apply would read it as a diff)", text[:3])
		default:
			key, val, ok := strings.Cut(text, ":")
			if !ok || values[key] == nil {
				return errf(line, "expected one of %s followed by \":\", got %q", strings.Join(headerKeys, ", "), text)
			}
			if seen[key] {
				return errf(line, "%s given twice", key)
			}
			seen[key], last = true, key
			*values[key] = strings.TrimSpace(val)
			continue
		}
		if diffAt > 0 {
			break
		}
		last = ""
	}
	if diffAt == 0 {
		return errf(line, "no \"diff --git\" line: the file holds no patch")
	}
	for _, k := range headerKeys {
		if !seen[k] || *values[k] == "" {
			return errf(1, "missing header %s", k)
		}
	}
	if got := *values["Mutant"]; got != m.Name {
		return errf(1, "Mutant: %q, but the file is named %s.patch", got, m.Name)
	}
	if !slices.Contains(Policies, m.Policy) {
		return errf(1, "Policy: unknown %q, expected one of: %s", m.Policy, strings.Join(Policies, ", "))
	}
	for _, item := range strings.Split(m.CaughtBy, ";") {
		name, check, ok := strings.Cut(item, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") || strings.TrimSpace(check) == "" {
			return errf(1, "Caught-by: expected \"SCENARIO: check\" items separated by \";\", got %q", strings.TrimSpace(item))
		}
		m.Scenarios = append(m.Scenarios, name)
	}
	return m, nil
}

// All returns the built-in mutants sorted by name. The patches are embedded and checked by
// the package's tests, so an invalid one is a broken build and panics, like a duplicate
// registration would.
func All() []Mutant { return slices.Clone(all()) }

var all = sync.OnceValue(func() []Mutant {
	files, _ := fs.Glob(patchFS, "*.patch") // the pattern is constant: no error
	sort.Strings(files)
	out := make([]Mutant, 0, len(files))
	for _, f := range files {
		data, err := patchFS.ReadFile(f)
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		m, err := Parse(f, data)
		if err != nil {
			panic(err) // TestPatchHeaders keeps every embedded patch valid
		}
		out = append(out, m)
	}
	return out
})

// Names lists the built-in mutants' names, sorted.
func Names() []string {
	var out []string
	for _, m := range all() {
		out = append(out, m.Name)
	}
	return out
}

// Get returns the built-in mutant called name.
func Get(name string) (Mutant, bool) {
	for _, m := range all() {
		if m.Name == name {
			return m, true
		}
	}
	return Mutant{}, false
}
