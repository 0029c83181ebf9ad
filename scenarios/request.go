package scenarios

import (
	"fmt"
	"strings"
)

// ParseRequest splits a load request "METHOD /path" as a scenario's `request` takes it (the
// console's load form uses it too, so both accept and refuse the same strings).
func ParseRequest(s string) (method, path string, err error) {
	m := requestRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", "", fmt.Errorf("expected \"METHOD /path\" such as \"GET /r/{code}\", got %q", s)
	}
	if bad := badPlaceholder(m[2]); bad != "" {
		return "", "", fmt.Errorf("unknown placeholder %q, expected only {code}", bad)
	}
	return m[1], m[2], nil
}
