package conformance

import (
	"strconv"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/system/policy"
)

func TestLimiterCheck(t *testing.T) {
	al := &policy.AdaptiveLimiter{MinLimit: 2, MaxLimit: 8, InitialLimit: 4}
	adm := func(inFlight, limit int) limiterAdmission {
		return limiterAdmission{inFlight: inFlight, limit: limit, hasInFlight: true, hasLimit: true}
	}
	for _, c := range []struct {
		name string
		as   []limiterAdmission
		want string
	}{
		{"within and at its limit", []limiterAdmission{adm(1, 4), adm(4, 4), adm(3, 6)}, reports.ConformancePass},
		{"refused below the limit is exercised", []limiterAdmission{adm(1, 4), {rejected: true}}, reports.ConformancePass},
		{"never at its limit", []limiterAdmission{adm(1, 4), adm(2, 5)}, reports.ConformanceNoData},
		{"above max_limit", []limiterAdmission{adm(9, 8)}, reports.ConformanceFail},
		{"limit below min_limit", []limiterAdmission{adm(1, 1)}, reports.ConformanceFail},
		// The limit fell while admitted calls held their permits: in flight above the limit
		// of the moment is no violation, only above max_limit is.
		{"limit fell under held permits", []limiterAdmission{adm(7, 3)}, reports.ConformancePass},
		{"nothing recorded", nil, reports.ConformanceNoData},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := limiterCheck(c.as, al).check("a->b", LimiterConcurrency, limiterText(al))
			if got.Status != c.want {
				t.Errorf("status = %s (%s, %v), want %s", got.Status, got.Observed, got.Examples, c.want)
			}
		})
	}
}

func TestHedgeCheck(t *testing.T) {
	span := func(hedges int) *call {
		s := &traces.Span{Kind: traces.KindInternal, Start: time.Unix(1, 0), End: time.Unix(1, 1)}
		if hedges >= 0 {
			s.Attrs = traces.Attrs{{Key: traces.AttrHedges, Value: strconv.Itoa(hedges)}}
		}
		return &call{span: s}
	}
	ix := &index{start: time.Unix(0, 0)}
	h := policy.Hedge{Delay: policy.Duration(25 * time.Millisecond), MaxHedges: 1}
	retry := &policy.Retry{MaxRetries: 2}
	for _, c := range []struct {
		name  string
		calls []*call
		r     *policy.Retry
		want  string
	}{
		{"one hedge", []*call{span(0), span(1)}, nil, reports.ConformancePass},
		{"two hedges without retries", []*call{span(2)}, nil, reports.ConformanceFail},
		{"a hedge in each of three rounds", []*call{span(3)}, retry, reports.ConformancePass},
		{"no call hedged", []*call{span(0), span(0)}, nil, reports.ConformanceNoData},
		{"nothing recorded", []*call{span(-1)}, nil, reports.ConformanceNoData},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ix.hedgeCheck("redirect->link", c.calls, h, c.r); got.Status != c.want {
				t.Errorf("status = %s (%s), want %s", got.Status, got.Observed, c.want)
			}
		})
	}
}

// A hedged edge allows 1 + max_hedges attempts per round and does not judge backoff gaps
// (a hedge starts while the attempt before it still runs).
func TestHedgedEdgeAttemptsAndNoBackoff(t *testing.T) {
	p := policy.EdgePolicy{Retry: &policy.Retry{MaxRetries: 1, Backoff: policy.Duration(10 * time.Millisecond)}, Hedge: &policy.Hedge{Delay: policy.Duration(time.Millisecond)}}
	ix := &index{start: time.Unix(0, 0), calls: map[string][]*call{}}
	checks := ix.edgeChecks("redirect->link", p, nil)
	var names []string
	for _, c := range checks {
		names = append(names, c.Policy)
		if c.Policy == RetryAttempts && c.Configured != "at most 2 attempts per call (max_retries 1), each round with up to 1 hedges: at most 4" {
			t.Errorf("attempts configured = %q", c.Configured)
		}
		if c.Policy == RetryBackoff {
			t.Error("backoff judged on a hedged edge")
		}
	}
	if len(names) != 2 || names[1] != HedgeCount {
		t.Errorf("checks = %v, want retry.attempts and hedge.count", names)
	}
}
