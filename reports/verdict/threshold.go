// Package verdict is the one judge of a run: thresholds and bounds, SLOs, expectations,
// policy conformance, the no-data and invalid-measurement rules, the decision and mutant kills.
package verdict

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
)

// Threshold is one k6-style condition such as `p(99)<50ms`, `errors<0.1%` or `rate>=95/s`.
// Value is in Unit: milliseconds for latencies, 0..1 for errors, per second for rate.
type Threshold struct {
	Raw        string  `json:"raw"`
	Metric     string  `json:"metric"` // p, avg, med, min, max, errors, rate, goodput
	Percentile float64 `json:"percentile,omitempty"`
	// OK restricts a latency metric to successful requests (written p(95)_ok): what admitted
	// requests saw while the excess was shed. Pair it with errors or goodput: failing
	// everything fast would otherwise satisfy it (no successful request fails it: no_data).
	OK    bool    `json:"ok,omitempty"`
	Op    string  `json:"op"` // <, <=, >, >=
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// ErrThreshold is wrapped by every threshold parse error, ErrBound by every bound parse error.
var (
	ErrThreshold = errors.New("invalid threshold")
	ErrBound     = errors.New("invalid bound")
)

var thresholdRE = regexp.MustCompile(`^\s*(p\(\s*([0-9]+(?:\.[0-9]+)?)\s*\)|avg|med|min|max|errors|rate|goodput)(_ok)?\s*(<=|>=|<|>)\s*(\S+)\s*$`)

// ParseThreshold parses k6 threshold syntax. Latencies take a Go duration (`50ms`, `1.5s`) or
// a bare number of milliseconds as k6 does; errors take a percentage (`0.1%`, the % is
// required); rate takes `95/s` or a bare number per second. A threshold that is true for every
// value its metric can take (`errors<=100%`, `p(99)>=0`) or for none (`errors<0%`) is refused:
// it cannot tell a good run from a bad one.
func ParseThreshold(s string) (Threshold, error) {
	m := thresholdRE.FindStringSubmatch(s)
	if m == nil {
		return Threshold{}, fmt.Errorf("%w %q: expected METRIC OP VALUE with METRIC one of p(N), avg, med, min, max (each optionally _ok: successful requests only), errors, rate, goodput and OP one of <, <=, >, >= (e.g. p(99)<50ms, p(95)_ok<300ms, errors<0.1%%, goodput>=95/s)", ErrThreshold, s)
	}
	t := Threshold{Raw: strings.TrimSpace(s), Metric: m[1], Op: m[4], OK: m[3] != ""}
	if t.OK && (m[1] == "errors" || m[1] == "rate" || m[1] == "goodput") {
		return Threshold{}, fmt.Errorf("%w %q: _ok applies to latency metrics only (p(N), avg, med, min, max)", ErrThreshold, s)
	}
	if strings.HasPrefix(m[1], "p(") {
		t.Metric = "p"
		p, err := strconv.ParseFloat(m[2], 64)
		if err != nil || p <= 0 || p > 100 {
			return Threshold{}, fmt.Errorf("%w %q: expected a percentile in (0, 100]", ErrThreshold, s)
		}
		t.Percentile = p
	}
	v, unit, err := parseValue(t.Metric, m[5])
	if err != nil {
		return Threshold{}, fmt.Errorf("%w %q: %v", ErrThreshold, s, err)
	}
	t.Value, t.Unit = v, unit
	if err := decisive(t.Op, t.Value, t.Unit); err != nil {
		return Threshold{}, fmt.Errorf("%w %q: %v", ErrThreshold, s, err)
	}
	return t, nil
}

// decisive refuses a comparison that is true for every value a metric in unit can take (a
// check that can never fail, an abort condition that always fires) or for none (a check that
// can never pass, an abort condition that never fires). A bound is only ever a check.
func decisive(op string, v float64, unit string) error { return decides(op, v, unit, false) }

func decides(op string, v float64, unit string, bound bool) error {
	hi, domain := math.Inf(1), "a latency is 0 ms or more"
	switch unit {
	case reports.UnitRatio:
		hi, domain = 1, "a share of requests is between 0% and 100%"
	case reports.UnitPerS:
		domain = "a rate is 0/s or more"
	}
	var always, never bool
	switch op {
	case "<":
		always, never = v > hi, v <= 0
	case "<=":
		always, never = v >= hi, v < 0
	case ">":
		always, never = v < 0, v >= hi
	case ">=":
		always, never = v <= 0, v > hi
	}
	switch {
	case always && bound:
		return fmt.Errorf("holds whatever the run measures (%s), so it can never fail", domain)
	case never && bound:
		return fmt.Errorf("holds for nothing a run can measure (%s), so it can never pass", domain)
	case always:
		return fmt.Errorf("true whatever the run measures (%s): as a check it can never fail, as an abort condition it always fires", domain)
	case never:
		return fmt.Errorf("false whatever the run measures (%s): as a check it can never pass, as an abort condition it never fires", domain)
	}
	return nil
}

func parseValue(metric, raw string) (float64, string, error) {
	switch metric {
	case "errors":
		ratio, err := parsePercent(raw, "0.1%")
		return ratio, reports.UnitRatio, err
	case "rate", "goodput":
		num := strings.TrimSuffix(raw, "/s")
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, "", fmt.Errorf("expected a rate like 95/s, got %q", raw)
		}
		return v, reports.UnitPerS, nil
	default:
		if v, err := strconv.ParseFloat(raw, 64); err == nil {
			if v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return 0, "", fmt.Errorf("expected a non-negative latency, got %q", raw)
			}
			return v, reports.UnitMs, nil
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			return 0, "", fmt.Errorf("expected a latency like 50ms or 1s, got %q", raw)
		}
		return float64(d) / float64(time.Millisecond), reports.UnitMs, nil
	}
}

var percentRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)%$`)

// parsePercent reads a share written as a percentage, 0% to 100%. The % is required: a bare
// number is ambiguous (is 1 one percent or all of them?). The decimal point is moved in the
// text rather than divided by 100 in floating point, so 1.1% is exactly the share 11/1000
// a run can measure (1.1/100 is a hair above it, and errors<1.1% would pass at 1.1%).
// example is what the error shows as a well-written value.
func parsePercent(raw, example string) (float64, error) {
	m := percentRE.FindStringSubmatch(raw)
	if m == nil {
		if _, err := strconv.ParseFloat(raw, 64); err == nil {
			return 0, fmt.Errorf("expected a percentage such as %s, got the bare number %q (ambiguous: is 1 one percent or all requests? write the %%)", example, raw)
		}
		return 0, fmt.Errorf("expected a percentage between 0%% and 100%% such as %s, got %q", example, raw)
	}
	v, err := strconv.ParseFloat(m[1]+"e-2", 64)
	if err != nil || v > 1 {
		return 0, fmt.Errorf("expected a percentage between 0%% and 100%% such as %s, got %q", example, raw)
	}
	return v, nil
}

// ParsePercent reads a share written as a percentage such as `5%` (0% to 100%), with the same
// grammar as the errors thresholds.
func ParsePercent(raw string) (float64, error) { return parsePercent(strings.TrimSpace(raw), "5%") }

// FormatPercent writes a share as a percentage that ParsePercent reads back exactly.
func FormatPercent(v float64) string {
	if v == 0 {
		return "0%"
	}
	// Shift the decimal point of the shortest exact form by two places, in the text.
	mant, exp, _ := strings.Cut(strconv.FormatFloat(v, 'e', -1, 64), "e")
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(exp)
	point := e + 3 // digits[:point] are the integer part of the percentage
	switch {
	case point <= 0:
		digits = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		digits += strings.Repeat("0", point-len(digits))
	default:
		digits = digits[:point] + "." + digits[point:]
	}
	return digits + "%"
}

// Bound is a ceiling on a share of requests, such as expect.blast_radius.user_impact: "5%" or
// "<=5%" (at most 5%) or "<5%", the value in the errors thresholds' percentage grammar.
type Bound struct {
	Raw   string  `json:"raw"`
	Op    string  `json:"op"`    // < or <=
	Value float64 `json:"value"` // 0..1
}

var boundRE = regexp.MustCompile(`(?s)^\s*(<=|<)?\s*(.*?)\s*$`)

// ParseBound reads a share ceiling: "0%", "<=5%", "<1%". A bound every run meets (<=100%) or
// none can (<0%) is refused, as for thresholds.
func ParseBound(s string) (Bound, error) {
	m := boundRE.FindStringSubmatch(s)
	op := m[1]
	if op == "" {
		op = "<="
	}
	v, err := parsePercent(m[2], `"<=5%", "<1%" or "0%"`)
	if err == nil {
		err = decides(op, v, reports.UnitRatio, true)
	}
	if err != nil {
		return Bound{}, fmt.Errorf("%w %q: %v", ErrBound, strings.TrimSpace(s), err)
	}
	return Bound{Raw: strings.TrimSpace(s), Op: op, Value: v}, nil
}

// Holds says whether an observed share respects the bound; like thresholds, exactly.
func (b Bound) Holds(v float64) bool {
	if b.Op == "<" {
		return v < b.Value
	}
	return b.Op == "<=" && v <= b.Value
}

// MarshalYAML writes the bound as written.
func (b Bound) MarshalYAML() (any, error) { return b.Raw, nil }

// Holds says whether the measured value satisfies the threshold.
func (t Threshold) Holds(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	case ">":
		return v > t.Value
	case ">=":
		return v >= t.Value
	}
	return false // an unparsed operator never passes
}
