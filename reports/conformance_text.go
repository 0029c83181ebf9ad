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
