package compare

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/faultline/faultline/internal/atomicfile"
	"github.com/faultline/faultline/system/profiles"
)

// ErrSweep matches every error in what a sweep was asked for (its specification, edge or base
// profile), as opposed to a failure of the machine.
var ErrSweep = errors.New("compare: bad sweep")

// sweepError is an error in what the sweep was asked for; its text is the error's own.
type sweepError struct{ err error }

func (e sweepError) Error() string      { return e.err.Error() }
func (e sweepError) Unwrap() error      { return e.err }
func (sweepError) Is(target error) bool { return target == ErrSweep }

func badSweep(format string, a ...any) error { return sweepError{fmt.Errorf(format, a...)} }

// Variant is one thing to run a scenario under: Label names it in the comparison (a sweep
// labels it "param=value", the form the comparison recognises as a Sweep); Profile is a
// built-in profile name or a YAML path.
type Variant struct{ Label, Profile string }

// ProfileVariants is one variant per profile, labelled by the profile.
func ProfileVariants(profiles []string) []Variant {
	vs := make([]Variant, 0, len(profiles))
	for _, p := range profiles {
		vs = append(vs, Variant{Label: p, Profile: p})
	}
	return vs
}

// RunDir is where repeat i (from 1) of the variant runs under a comparison's output dir.
func (v Variant) RunDir(out string, i int) string {
	return filepath.Join(out, "runs", fmt.Sprintf("%s-%d", safeName(v.Label), i))
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._=-]+`)

// safeName turns a label into a file name.
func safeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if s == "" {
		return "run"
	}
	return s
}

// SweepProfiles derives one profile file per value of param from the base profile (a built-in
// name or a YAML path), writes them into dir and returns them labelled "param=value". A param
// path starting at the top level (edges., routes., events.) is set as is, otherwise on edge,
// or on every edge that already has the param's first key when edge is "".
func SweepProfiles(param string, values []string, edge, base, dir string) ([]Variant, error) {
	if param == "" || len(values) == 0 {
		return nil, badSweep("compare: a sweep needs a parameter and values")
	}
	raw, baseName, err := readProfile(base)
	if err != nil {
		return nil, err
	}
	var vs []Variant
	for _, val := range values {
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, badSweep("compare: base profile %s: %w", base, err)
		}
		if doc == nil {
			return nil, badSweep("compare: base profile %s is empty", base)
		}
		var typed any
		if err := yaml.Unmarshal([]byte(val), &typed); err != nil {
			return nil, badSweep("compare: --sweep value %q: %w", val, err)
		}
		if err := setParam(doc, param, edge, typed); err != nil {
			return nil, sweepError{err}
		}
		name := safeName(fmt.Sprintf("%s-%s-%s", baseName, param, val))
		doc["name"] = name
		out, err := yaml.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		path := filepath.Join(dir, name+".yaml")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		if err := atomicfile.WriteFile(path, out, 0o644); err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		vs = append(vs, Variant{Label: param + "=" + val, Profile: path})
	}
	return vs, nil
}

// readProfile reads a profile by path, or a built-in one by name.
func readProfile(base string) ([]byte, string, error) {
	if b, err := os.ReadFile(base); err == nil {
		return b, strings.TrimSuffix(filepath.Base(base), filepath.Ext(base)), nil
	}
	b, err := profiles.FS.ReadFile(base + ".yaml")
	if err != nil {
		return nil, "", badSweep("compare: base profile %q is neither a file nor a built-in profile", base)
	}
	return b, base, nil
}

// setParam sets a dotted parameter in a profile document. A path starting at the top level
// (edges., routes., events.) is set as is; otherwise it is relative to an edge: --edge, or
// every edge that already has the parameter's first key.
func setParam(doc map[string]any, param, edge string, v any) error {
	keys := strings.Split(param, ".")
	if _, top := doc[keys[0]]; top || keys[0] == "edges" || keys[0] == "routes" || keys[0] == "events" {
		return setPath(doc, keys, v)
	}
	edges, _ := doc["edges"].(map[string]any)
	if edge != "" {
		e, ok := edges[edge].(map[string]any)
		if !ok {
			return fmt.Errorf("compare: profile has no edge %q (edges: %s)", edge, strings.Join(sortedKeys(edges), ", "))
		}
		return setPath(e, keys, v)
	}
	n := 0
	for _, name := range sortedKeys(edges) {
		e, ok := edges[name].(map[string]any)
		if !ok {
			continue
		}
		if _, has := e[keys[0]]; has {
			if err := setPath(e, keys, v); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("compare: no edge of the profile has %q; name one with --edge", keys[0])
	}
	return nil
}

func setPath(m map[string]any, keys []string, v any) error {
	for i, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			if _, exists := m[k]; exists {
				return fmt.Errorf("compare: %s is not a map", strings.Join(keys[:i+1], "."))
			}
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
	return nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
