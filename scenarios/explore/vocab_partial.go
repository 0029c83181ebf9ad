package explore

import (
	"fmt"

	"github.com/faultline/faultline/system/policy"
	"github.com/faultline/faultline/system/topology"
)

// Fault classes of the partial faults (issue 15): a share of an edge's HTTP requests, or a
// starved CPU. They are the gray failures a breaker's failure_ratio, a retry and a timeout
// are tuned for, so the search tries them like the all-or-nothing ones.
const (
	ClassHTTPError = "http-error" // a share of requests answered 503 by the proxy
	ClassHTTPTail  = "http-tail"  // a share of requests held past the caller's timeout
	ClassHTTPReset = "http-reset" // a share of responses cut mid-body
	ClassCPU       = "cpu"        // the component keeps a tenth of one CPU
)

// Shares the vocabulary uses: a fifth of the calls failing is below a breaker's usual
// failure_ratio (retries should hide it; the breaker should stay closed), a 2 % tail is what
// a timeout and a retry exist for, and a tenth of one CPU is a noisy neighbour.
const (
	HTTPErrorShare = 0.2
	HTTPTailShare  = 0.02
	HTTPResetShare = 0.05
	StarvedCPU     = 0.1
)

// httpEdge says whether the edge speaks HTTP: a request-level toxic on a Redis, NATS or
// PostgreSQL edge parses nothing and would not land.
func httpEdge(edge string) bool {
	for _, e := range topology.Edges() {
		if e.Name == edge {
			return e.Protocol == topology.HTTP
		}
	}
	return false
}

func httpError(_ *policy.Profile, edge string) (map[string]any, string, bool) {
	if !httpEdge(edge) {
		return nil, "", false
	}
	return map[string]any{"status": 503, "share": HTTPErrorShare},
		fmt.Sprintf("%.0f %% of requests answered 503 by the proxy (the callee never sees them)", HTTPErrorShare*100), true
}

func httpTail(p *policy.Profile, edge string) (map[string]any, string, bool) {
	if !httpEdge(edge) {
		return nil, "", false
	}
	params, why, _ := beyond(p, edge)
	params["share"] = HTTPTailShare
	return params, fmt.Sprintf("%.0f %% of requests held: %s", HTTPTailShare*100, why), true
}

func httpReset(_ *policy.Profile, edge string) (map[string]any, string, bool) {
	if !httpEdge(edge) {
		return nil, "", false
	}
	return map[string]any{"share": HTTPResetShare},
		fmt.Sprintf("%.0f %% of responses cut mid-body, connection closed", HTTPResetShare*100), true
}

func starvedCPU(*policy.Profile, string) (map[string]any, string, bool) {
	return map[string]any{"share": StarvedCPU}, fmt.Sprintf("%.0f %% of one CPU left (cgroup quota or stop/continue)", StarvedCPU*100), true
}
