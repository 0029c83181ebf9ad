package traces

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
)

// Expect mirrors a scenario's expect.blast_radius and expect.mechanisms.
type Expect struct {
	// ContainedTo lists the services allowed to be affected (besides the origins).
	ContainedTo []string `json:"contained_to,omitempty" yaml:"contained_to,omitempty"`
	// Unaffected lists services (or edges, from->to) that must be measured and not affected.
	Unaffected []string `json:"unaffected,omitempty" yaml:"unaffected,omitempty"`
	// UserImpact bounds the share of failed or too slow requests per load stream, parsed when
	// the scenario was validated (reports.ParseBound: "0%", "<=5%", "<5%").
	UserImpact map[string]reports.Bound `json:"user_impact,omitempty" yaml:"user_impact,omitempty"`
	// MaxAffectedServices bounds the affected services, origins not counted.
	MaxAffectedServices *int `json:"max_affected_services,omitempty" yaml:"max_affected_services,omitempty"`
	// Breakers lists the breakers that must open (and close) in time.
	Breakers []BreakerExpect `json:"breakers,omitempty" yaml:"breakers,omitempty"`
	// MaxRetriesPerRequest bounds the retries any single call on an edge made during the fault
	// (not the mean: one call retrying ten times hides among a thousand that did not).
	MaxRetriesPerRequest map[string]float64 `json:"max_retries_per_request,omitempty" yaml:"max_retries_per_request,omitempty"`
}

// BreakerExpect is one expected breaker: it must open within OpensWithin of its fault's start
// and close within ClosesWithin of the heal (a zero duration leaves that side unchecked, but the
// breaker must still have opened).
type BreakerExpect struct {
	Edge         string        `json:"edge" yaml:"edge"`
	OpensWithin  time.Duration `json:"opens_within,omitempty" yaml:"opens_within,omitempty"`
	ClosesWithin time.Duration `json:"closes_within,omitempty" yaml:"closes_within,omitempty"`
}

// Judge turns the expectations into pass/fail lines. Missing data never passes: a service with
// no spans cannot be proven unaffected, a stream without a measured impact fails its bound, a
// breaker never seen fails.
func Judge(exp Expect, br *reports.BlastRadius, m *reports.Mechanisms) []reports.Expectation {
	var out []reports.Expectation
	add := func(what, expected, observed string, pass bool) {
		out = append(out, reports.Expectation{What: what, Expected: expected, Observed: observed, Pass: pass})
	}
	noBR := "no blast radius: no spans were analysed"
	origins := map[string]bool{}
	if br != nil {
		for _, o := range br.Origins {
			origins[OriginComponent(o)] = true
			origins[o] = true
		}
	}
	if exp.ContainedTo != nil {
		what, want := "blast radius contained", "affected services within ["+strings.Join(exp.ContainedTo, ", ")+"] or the origin"
		if br == nil {
			add(what, want, noBR, false)
		} else {
			obs, ok := containment(exp.ContainedTo, br, origins)
			add(what, want, obs, ok)
		}
	}
	for _, name := range exp.Unaffected {
		what := "unaffected: " + name
		if br == nil {
			add(what, "not affected", noBR, false)
			continue
		}
		si, ok := impactOf(br, name)
		switch {
		case !ok:
			add(what, "not affected", "no spans for "+name+": cannot prove it unaffected", false)
		case insufficient(si):
			add(what, "not affected", si.Why+": cannot prove it unaffected", false)
		default:
			add(what, "not affected", impactText(si), !si.Affected)
		}
	}
	for _, stream := range sortedKeys(exp.UserImpact) {
		b := exp.UserImpact[stream]
		what, want := "user impact: "+stream, b.Raw
		if br == nil || br.UserImpact == nil {
			add(what, want, "no user impact measured", false)
			continue
		}
		v, ok := br.UserImpact[stream]
		if !ok {
			add(what, want, "no requests of stream "+stream+" measured in the fault phase", false)
			continue
		}
		add(what, want, pct2(v), b.Holds(v))
	}
	if exp.MaxAffectedServices != nil {
		what, want := "affected services", fmt.Sprintf("at most %d besides the origin", *exp.MaxAffectedServices)
		if br == nil {
			add(what, want, noBR, false)
		} else {
			var n []string
			for _, s := range br.AffectedServices {
				if !origins[s] {
					n = append(n, s)
				}
			}
			add(what, want, fmt.Sprintf("%d [%s]", len(n), strings.Join(n, ", ")), len(n) <= *exp.MaxAffectedServices && measured(br))
		}
	}
	for _, be := range exp.Breakers {
		out = append(out, judgeBreaker(be, m)...)
	}
	for _, edge := range sortedKeys(exp.MaxRetriesPerRequest) {
		limit := exp.MaxRetriesPerRequest[edge]
		what, want := "retries per request: "+edge, fmt.Sprintf("<= %g in any one call", limit)
		if m == nil {
			out = append(out, reports.Expectation{What: what, Expected: want, Observed: "no mechanisms observed: no spans", NoData: true})
			continue
		}
		most, ok := m.MaxRetriesPerCall[edge]
		if !ok {
			out = append(out, reports.Expectation{What: what, Expected: want, NoData: true,
				Observed: "no retry data for " + edge + " (no span carries resilience.retries or resilience.attempt)"})
			continue
		}
		add(what, want, fmt.Sprintf("%d at most in one call (mean %.3g)", most, m.RetriesPerRequest[edge]), float64(most) <= limit)
	}
	return out
}

// containment checks every affected service is allowed, and that something was measured.
func containment(allowed []string, br *reports.BlastRadius, origins map[string]bool) (string, bool) {
	if !measured(br) {
		return "no service had enough calls in both phases: containment not proven", false
	}
	var outside []string
	for _, s := range br.AffectedServices {
		if !origins[s] && !slices.Contains(allowed, s) {
			outside = append(outside, s)
		}
	}
	// A service outside the list that served enough in the baseline and then went quiet
	// cannot be shown unharmed.
	var unproven []string
	for _, si := range br.Services {
		if si.Kind != "service" || origins[si.Name] || slices.Contains(allowed, si.Name) || si.Affected {
			continue
		}
		if callsIn(si, reports.PhaseBaseline) >= MinCalls && callsIn(si, reports.PhaseFault) < MinFaultCalls {
			unproven = append(unproven, si.Name)
		}
	}
	obs := "affected: [" + strings.Join(br.AffectedServices, ", ") + "]"
	if len(outside) > 0 {
		obs += "; outside the list: [" + strings.Join(outside, ", ") + "]"
	}
	if len(unproven) > 0 {
		obs += "; too few fault-phase calls to judge: [" + strings.Join(unproven, ", ") + "]"
	}
	return obs, len(outside) == 0 && len(unproven) == 0
}

// measured says whether at least one service had enough calls to be judged.
func measured(br *reports.BlastRadius) bool {
	for _, si := range br.Services {
		if si.Kind == "service" && !insufficient(si) {
			return true
		}
	}
	return false
}

func callsIn(si reports.ServiceImpact, phase string) int {
	n := 0
	for _, f := range si.Phases {
		if f.Phase == phase {
			n += f.Calls
		}
	}
	return n
}

func impactOf(br *reports.BlastRadius, name string) (reports.ServiceImpact, bool) {
	kind := "service"
	if _, _, ok := SplitEdge(name); ok {
		kind = "edge"
	}
	for _, si := range br.Services {
		if si.Name == name && si.Kind == kind {
			return si, true
		}
	}
	return reports.ServiceImpact{}, false
}

func impactText(si reports.ServiceImpact) string {
	if si.Affected {
		return "affected: " + si.Why
	}
	return "not affected: " + si.Why
}

func judgeBreaker(be BreakerExpect, m *reports.Mechanisms) []reports.Expectation {
	what := "breaker " + be.Edge
	fail := func(want, obs string) []reports.Expectation {
		return []reports.Expectation{{What: what + " opens", Expected: want, Observed: obs, NoData: true}}
	}
	want := "at some point in the fault"
	if be.OpensWithin > 0 {
		want = "within " + be.OpensWithin.String() + " of the fault"
	}
	if m == nil {
		return fail(want, "no mechanisms observed: no spans")
	}
	i := slices.IndexFunc(m.Breakers, func(b reports.BreakerSummary) bool { return b.Edge == be.Edge })
	if i < 0 {
		return fail(want, "no breaker state observed on "+be.Edge)
	}
	b := m.Breakers[i]
	var out []reports.Expectation
	switch {
	case !b.Opened:
		out = append(out, reports.Expectation{What: what + " opens", Expected: want, Observed: "never opened"})
	case b.OpenAfterS == nil:
		out = append(out, reports.Expectation{What: what + " opens", Expected: want,
			Observed: "opened, but not after a fault this edge leads to"})
	default:
		open := secs(*b.OpenAfterS)
		out = append(out, reports.Expectation{What: what + " opens", Expected: want,
			Observed: "opened after " + open.String(), Pass: be.OpensWithin == 0 || open <= be.OpensWithin})
	}
	if be.ClosesWithin > 0 {
		want := "within " + be.ClosesWithin.String() + " of the heal"
		e := reports.Expectation{What: what + " closes", Expected: want}
		switch {
		case b.ClosedAfterS == nil:
			e.Observed = "not seen closing after the heal"
		default:
			c := secs(*b.ClosedAfterS)
			e.Observed, e.Pass = "closed after "+c.String(), c <= be.ClosesWithin
		}
		out = append(out, e)
	}
	return out
}

func secs(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

func pct2(v float64) string { return strconv.FormatFloat(v*100, 'f', 2, 64) + "%" }

// insufficient says whether an impact could not be judged for want of calls (results.go has no
// field for it, so the reason's wording carries it).
func insufficient(si reports.ServiceImpact) bool { return strings.HasPrefix(si.Why, StopInsufficient) }
