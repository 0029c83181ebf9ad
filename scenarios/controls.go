package scenarios

import (
	"io/fs"
	"sort"
	"strings"

	"github.com/faultline/faultline/system/profiles"
)

// Mutants are the built-in profiles a scenario may list under controls: every embedded
// profile except default, which is what the mutants are measured against.
func Mutants() []string {
	files, _ := fs.Glob(profiles.FS, "*.yaml") // the pattern is constant: no error
	var out []string
	for _, f := range files {
		if name := strings.TrimSuffix(f, ".yaml"); name != "default" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Uncaught are the mutant profiles that remove a protection no catalogue scenario can yet show
// the loss of, with why: `faultline mutate` does not call them uncovered, and
// docs/catalogue.md lists them as known gaps.
var Uncaught = map[string]string{
	"no-budget":    "(control of scenarios/drafts/retry-budget.yaml): missed twice, 2026-12-02. With link resetting every connection the breaker opened at once and the stale cache answered; with 40 % of lookups held 300 ms (past the 200 ms timeout) redirect->link made 0.06 retries per request with the budget and 0.07 without (most redirects never reach link in the fault), so a budget of 20 % of calls in flight has nothing to refuse at this load.",
	"no-throttler": "(control of scenarios/drafts/retry-budget.yaml): missed for the same reason as no-budget (2026-12-02): without the throttler 609 attempts reached link in the fault against 479 with it, and every redirect still answered.",
}
