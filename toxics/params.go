package toxics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Duration is a time.Duration that decodes from "100ms"-style strings, or from a number of
// milliseconds, so scenario files and the CLI can say either.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Ms returns the value in whole milliseconds, which is what Toxiproxy takes.
func (d Duration) Ms() int64 { return time.Duration(d).Milliseconds() }

// wholeMs refuses a duration Toxiproxy would truncate: it takes integer milliseconds, so
// 500µs would silently become 0 (no latency at all, or for timeout a blackhole). zeroMeans
// says what 0 means for this parameter.
func (d Duration) wholeMs(name, zeroMeans string) error {
	if d%Duration(time.Millisecond) == 0 {
		return nil
	}
	became := fmt.Sprintf("%dms", d.Ms())
	if d.Ms() == 0 {
		became = "0, " + zeroMeans
	}
	return fmt.Errorf("%s %s: expected whole milliseconds (Toxiproxy takes integer ms: %s would silently become %s)", name, d, d, became)
}

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the string form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "100ms" or 100 (milliseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("toxics: duration %q: want e.g. 100ms or 2s", s)
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("toxics: duration %s: want e.g. \"100ms\" or a number of milliseconds", b)
	}
	ns := ms * float64(time.Millisecond)
	if ns != ns || ns > math.MaxInt64 || ns < math.MinInt64 {
		return fmt.Errorf("toxics: duration %s ms is out of range", b)
	}
	*d = Duration(ns)
	return nil
}

// New returns the fault registered as name with its parameters filled from params (as found
// in a scenario file or on the command line) and validated. An unknown parameter is an error
// that names the fault and its known parameters.
func New(name string, params map[string]any) (Fault, error) {
	f, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	known := ParamNames(f)
	clean := make(map[string]any, len(params))
	for k, v := range params {
		if !contains(known, k) {
			return nil, fmt.Errorf("toxics: %s: unknown parameter %q (known: %s)", name, k, strings.Join(known, ", "))
		}
		if d, ok := v.(time.Duration); ok {
			v = d.String() // a bare Duration would be read as milliseconds
		}
		clean[k] = v
	}
	b, err := json.Marshal(clean)
	if err != nil {
		return nil, fmt.Errorf("toxics: %s: parameters: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		var te *json.UnmarshalTypeError
		if ok := asTypeError(err, &te); ok {
			return nil, fmt.Errorf("toxics: %s: parameter %s: want %s, got %s", name, te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("toxics: %s: %w", name, err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("toxics: %s: %w", name, err)
	}
	return f, nil
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

// ParamNames lists the JSON names of a fault's parameters (embedded structs flattened), sorted:
// Describe's names, so the two cannot disagree.
func ParamNames(f Fault) []string {
	var names []string
	for _, p := range Describe(f) {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
