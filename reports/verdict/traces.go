package verdict

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
)

// What the blast-radius lines of JudgeTraces are called (reports.Expectation.What); BlastLine
// tells them from the other lines.
const (
	WhatContained        = "blast radius contained"
	WhatUnaffected       = "unaffected: "
	WhatUserImpact       = "user impact: "
	WhatAffectedServices = "affected services"
)

// BlastLine says whether an expectation line judges the blast radius.
func BlastLine(what string) bool {
	return what == WhatContained || what == WhatAffectedServices ||
		strings.HasPrefix(what, WhatUnaffected) || strings.HasPrefix(what, WhatUserImpact)
}

// JudgeTraces turns the blast-radius and mechanisms expectations (either may be nil) into
// pass/fail lines. Missing data never passes, and a line that fails for want of data says so
// (NoData): a service with no spans or too few fault-phase calls cannot be proven unaffected,
// nor can containment or a count of affected services be proven while a service outside them
// is unproven (unless AllowUnproven names it); a stream without a measured impact fails its
// bound; a breaker never seen fails.
func JudgeTraces(blast *ExpectBlast, mech *ExpectMechanisms, br *reports.BlastRadius, m *reports.Mechanisms) []reports.Expectation {
	if blast == nil {
		blast = &ExpectBlast{}
	}
	if mech == nil {
		mech = &ExpectMechanisms{}
	}
	var out []reports.Expectation
	add := func(what, expected, observed string, pass bool) {
		out = append(out, reports.Expectation{What: what, Expected: expected, Observed: observed, Pass: pass})
	}
	noData := func(what, expected, observed string) {
		out = append(out, reports.Expectation{What: what, Expected: expected, Observed: observed, NoData: true})
	}
	noBR := "no blast radius: no spans were analysed"
	origins := map[string]bool{}
	if br != nil {
		for _, o := range br.Origins {
			origins[traces.OriginComponent(o)] = true
			origins[o] = true
		}
	}
	if blast.ContainedTo != nil {
		what, want := WhatContained, "affected services within ["+strings.Join(blast.ContainedTo, ", ")+"] or the origin"
		if br == nil {
			noData(what, want, noBR)
		} else {
			out = append(out, containment(what, want, blast.ContainedTo, blast.AllowUnproven, br, origins))
		}
	}
	for _, name := range blast.Unaffected {
		what := WhatUnaffected + name
		if br == nil {
			noData(what, "not affected", noBR)
			continue
		}
		si, ok := traces.ImpactOf(br, name)
		switch {
		case !ok:
			noData(what, "not affected", "no spans for "+name+": cannot prove it unaffected")
		case si.Unproven && !si.Affected:
			noData(what, "not affected", si.Why+": cannot prove it unaffected")
		default:
			add(what, "not affected", impactText(si), !si.Affected)
		}
	}
	for _, stream := range slices.Sorted(maps.Keys(blast.UserImpact)) {
		b := blast.UserImpact[stream]
		what, want := WhatUserImpact+stream, b.Raw
		if br == nil || br.UserImpact == nil {
			noData(what, want, "no user impact measured")
			continue
		}
		v, ok := br.UserImpact[stream]
		if !ok {
			noData(what, want, "no requests of stream "+stream+" measured in the fault phase")
			continue
		}
		add(what, want, pct2(v), b.Holds(v))
	}
	if blast.MaxAffectedServices != nil {
		what, want := WhatAffectedServices, fmt.Sprintf("at most %d besides the origin", *blast.MaxAffectedServices)
		if br == nil {
			noData(what, want, noBR)
		} else {
			out = append(out, maxAffected(what, want, *blast.MaxAffectedServices, blast.AllowUnproven, br, origins))
		}
	}
	for _, be := range mech.Breakers {
		out = append(out, judgeBreaker(be, m)...)
	}
	for _, edge := range slices.Sorted(maps.Keys(mech.MaxRetriesPerRequest)) {
		limit := mech.MaxRetriesPerRequest[edge]
		what, want := "retries per request: "+edge, fmt.Sprintf("<= %g in any one call", limit)
		if m == nil {
			noData(what, want, "no mechanisms observed: no spans")
			continue
		}
		most, ok := m.MaxRetriesPerCall[edge]
		if !ok {
			noData(what, want, "no retry data for "+edge+" (no span carries resilience.retries or resilience.attempt)")
			continue
		}
		add(what, want, fmt.Sprintf("%d at most in one call (mean %.3g)", most, m.RetriesPerRequest[edge]), float64(most) <= limit)
	}
	return out
}

// containment checks every affected service is allowed and every other one was proven
// unaffected. An affected service outside the list is a measured failure; an unproven one
// (not allowed to be) fails as no data, since it may be affected unseen.
func containment(what, want string, allowed, allowUnproven []string, br *reports.BlastRadius, origins map[string]bool) reports.Expectation {
	e := reports.Expectation{What: what, Expected: want}
	if !measured(br) {
		e.Observed, e.NoData = "no service had enough fault-phase calls to be judged: containment not proven", true
		return e
	}
	var outside []string
	for _, s := range br.AffectedServices {
		if !origins[s] && !slices.Contains(allowed, s) {
			outside = append(outside, s)
		}
	}
	unproven, tolerated := unprovenOutside(br, origins, allowed, allowUnproven)
	e.Observed = "affected: [" + strings.Join(br.AffectedServices, ", ") + "]"
	if len(outside) > 0 {
		e.Observed += "; outside the list: [" + strings.Join(outside, ", ") + "]"
	}
	if len(unproven) > 0 {
		e.Observed += "; unproven (too few fault-phase calls to judge): [" + strings.Join(unproven, ", ") + "]: containment not proven"
	}
	if len(tolerated) > 0 {
		e.Observed += "; unproven, allowed: [" + strings.Join(tolerated, ", ") + "]"
	}
	e.Pass = len(outside) == 0 && len(unproven) == 0
	e.NoData = len(outside) == 0 && len(unproven) > 0
	return e
}

// maxAffected bounds the affected services besides the origins; unproven ones might be
// affected, so they leave a bound that holds on the rest unproven.
func maxAffected(what, want string, limit int, allowUnproven []string, br *reports.BlastRadius, origins map[string]bool) reports.Expectation {
	e := reports.Expectation{What: what, Expected: want}
	if !measured(br) {
		e.Observed, e.NoData = "no service had enough fault-phase calls to be judged", true
		return e
	}
	var n []string
	for _, s := range br.AffectedServices {
		if !origins[s] {
			n = append(n, s)
		}
	}
	unproven, _ := unprovenOutside(br, origins, nil, allowUnproven)
	e.Observed = fmt.Sprintf("%d [%s]", len(n), strings.Join(n, ", "))
	if len(unproven) > 0 {
		e.Observed += "; unproven (too few fault-phase calls to judge): [" + strings.Join(unproven, ", ") + "]"
	}
	e.Pass = len(n) <= limit && len(unproven) == 0
	e.NoData = len(n) <= limit && len(unproven) > 0
	return e
}

// unprovenOutside lists the unproven services that are neither origins nor allowed to be
// affected: those the scenario does not allow to stay unproven, and those it does.
func unprovenOutside(br *reports.BlastRadius, origins map[string]bool, allowed, allowUnproven []string) (unproven, tolerated []string) {
	for _, si := range br.Services {
		if si.Kind != "service" || !si.Unproven || origins[si.Name] || slices.Contains(allowed, si.Name) {
			continue
		}
		if slices.Contains(allowUnproven, si.Name) {
			tolerated = append(tolerated, si.Name)
		} else {
			unproven = append(unproven, si.Name)
		}
	}
	return unproven, tolerated
}

// measured says whether at least one service had enough calls to be judged.
func measured(br *reports.BlastRadius) bool {
	for _, si := range br.Services {
		if si.Kind == "service" && !si.Unproven {
			return true
		}
	}
	return false
}

func impactText(si reports.ServiceImpact) string {
	if si.Affected {
		return "affected: " + si.Why
	}
	return "not affected: " + si.Why
}

func judgeBreaker(be ExpectBreaker, m *reports.Mechanisms) []reports.Expectation {
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
