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
	"no-budget":    "(adaptive minus its retry budgets): retry-budget.yaml showed it until 2026-12-03 (no-budget 2.48-5.08 % of redirects failed in the fault, adaptive 0.80-1.23 %), then no longer on another 2-core machine with the load generator in a process of its own: adaptive 0.55-1.72 % in 36 runs, no-budget 0.48-1.84 % in five. With Redis down at 250/s both cores are saturated, adaptive's poisoned redirects also reach the gateway's 500 ms timeout (p99 0.76-1.0 s), and the budget's floor (3 retries in flight) admits most poisoned retries. The budget itself is proven by TestBudgetAdmitsRetriesUpToAQuarterOfCallsInFlight; the explorer found no-budget under http-poison@redirect->link+refused@redirect->redis (scenarios/explore/testdata/retry-storm.yaml, session 12).",
	"no-throttler": "(adaptive minus its throttlers): missed in every design tried, 2026-12-02/03. redirect->link's throttler acts on failed attempts above 20 %, where its breaker (0.5 of 20 attempts) already cycles, and every redirect either refuses is answered by the stale cache; at 22 % of lookups held past the timeout 16 % of attempts failed and it never engaged; in retry-budget.yaml (4 % of the keys poisoned) adaptive 0.38 % errors, no-throttler 0.46 %. gateway->link's throttler (0.5, K=2 of the SRE book) engages where its breaker (0.5 of 20) opens (docs/policy-choice.md).",
}
