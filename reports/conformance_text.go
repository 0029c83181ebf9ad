package reports

import (
	"fmt"
	"strings"
)

// TargetText names a check's edge or route for people: "edge redirect->link", "route create".
func (c ConformanceCheck) TargetText() string {
	if r, ok := strings.CutPrefix(c.Target, "route:"); ok {
		return "route " + r
	}
	return "edge " + c.Target
}

// FailReason is the verdict's reason for a failed check: the edge or route, the policy, the
// configured value and the observed one, with the first violation.
func (c ConformanceCheck) FailReason() string {
	s := fmt.Sprintf("conformance: %s policy %s: configured %s, observed %s", c.TargetText(), c.Policy, c.Configured, c.Observed)
	if len(c.Examples) > 0 {
		s += fmt.Sprintf(" (%d violations, e.g. %s)", c.Violations, c.Examples[0])
	}
	return s
}

// conformanceChecks lists a run's checks (none without conformance).
func conformanceChecks(c *Conformance) []ConformanceCheck {
	if c == nil {
		return nil
	}
	return c.Checks
}

// writeConformance writes summary.md's conformance section, one line per check.
func writeConformance(p func(string, ...any), c *Conformance) {
	if c == nil {
		return
	}
	p("## Policy conformance\n\nEach policy of profile `%s` against the spans: %d failed, %d passed, %d not exercised (neither pass nor fail), %d skipped by the scenario.\n\n",
		c.Profile, c.Failed, c.Passed, c.NoData, c.Skipped)
	for _, t := range c.Tolerances {
		p("- tolerance: %s\n", t)
	}
	p("\n| edge / route | policy | configured | observed | result |\n| --- | --- | --- | --- | --- |\n")
	for _, ch := range c.Checks {
		obs := ch.Observed
		if len(ch.Examples) > 0 {
			obs += "; e.g. " + strings.Join(ch.Examples, "; ")
		}
		res := ch.Status
		switch ch.Status {
		case ConformanceFail:
			res = "FAIL"
		case ConformanceNoData:
			res = "no data: " + ch.Reason
		case ConformanceSkipped:
			res = "skipped: " + ch.Reason
		}
		p("| %s | %s | %s | %s | %s |\n", cell(ch.TargetText()), ch.Policy, cell(ch.Configured), cell(obs), cell(res))
	}
	p("\n")
}
