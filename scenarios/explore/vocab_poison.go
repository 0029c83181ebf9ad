package explore

import (
	"fmt"

	"github.com/faultline/faultline/system/policy"
)

// ClassHTTPPoison is a share of the keys held past the caller's timeout: every request of a
// poisoned key, its retries too (http_latency by_path). A poisoned call's retries fail like
// the call, so they pile up in flight whatever the key's share of the traffic, while a breaker
// counting every attempt sees only that share: the storm a retry budget is for
// (scenarios/retry-budget.yaml, docs/policy-choice.md). http-tail, which picks requests by
// order, lets a retry through and shows none of it.
const ClassHTTPPoison = "http-poison"

// PoisonShare is the share of keys poisoned: small on purpose. At 10-15 % the poisoned
// calls' failed attempts open the caller's breaker (0.5 of 20) with or without a budget, and
// the fallback then hides the storm; at 4 % it stays closed (at 6 % no-budget's breaker opened
// in the power check's 5 s fault phase, 2026-12-03), and a load over 20 codes still has one
// poisoned (by_path picks the share exactly: ⌊20 × 0.04 + u⌋ = 1 for seed 7's u = 0.86).
// PoisonSeed fixes which keys, as retry-budget.yaml's seed 7.
const (
	PoisonShare = 0.04
	PoisonSeed  = 7
)

// httpPoison derives the class on an HTTP edge whose caller retries in the profile: without
// a retry there is no storm to test, and the singles sweep grows by the retrying edges alone.
func httpPoison(p *policy.Profile, edge string) (map[string]any, string, bool) {
	r := p.Edge(edge).Retry
	if !httpEdge(edge) || r == nil || r.MaxRetries == 0 {
		return nil, "", false
	}
	params, why, _ := beyond(p, edge)
	params["share"] = PoisonShare
	params["by_path"] = true
	params["seed"] = PoisonSeed
	return params, fmt.Sprintf("%.0f %% of the keys held, every request of one and its retries too (the caller retries up to %d times): %s",
		PoisonShare*100, r.MaxRetries, why), true
}
