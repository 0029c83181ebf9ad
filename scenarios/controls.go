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
	"no-budget":    "(control of scenarios/drafts/retry-budget.yaml): missed in four designs, 2026-12-02. failsafe-go's budget (0.2, at least 3) admits retries while they are at most a quarter of the calls in flight, so with independent failures it binds only above about 21 % failed attempts, while redirect->link's breaker (0.5 of 20) opens at 30 % within 1-2 s and the stale cache answers every refused redirect; at 22 % (breaker closed) attempts per redirect were 1.23 with the budget against 1.26 without, and no client-side figure moved. A budget decides a storm of retries that fail too (a poison key, http faults' by_path): two runs caught it (adaptive 0.6 % / 1.0 % errors, no-budget 1.9 % / 4.5 %), but adaptive's own runs failed unrelated conformance checks and its margin is thin (scenarios/drafts/README.md).",
	"no-throttler": "(control of scenarios/drafts/retry-budget.yaml): missed with no-budget, 2026-12-02. redirect->link's throttler acts on failed attempts above 20 %, where the breaker already cycles; at 22 % of lookups held past the timeout 16 % of attempts failed and it never engaged, and every redirect it could have shed is answered by the stale cache anyway (scenarios/drafts/README.md).",
}
