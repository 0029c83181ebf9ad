package explore

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
)

// dataStreams says which kind of request a data-safety counter speaks for: links for
// creations, clicks for redirects.
var dataCounters = []struct {
	name  string
	get   func(*reports.DataSafety) int
	links bool // true: a creation's data, false: a redirect's click
}{
	{"lost_links", func(d *reports.DataSafety) int { return d.LostLinks }, true},
	{"lost_link_events", func(d *reports.DataSafety) int { return d.LostLinkEvents }, true},
	{"duplicate_link_events", func(d *reports.DataSafety) int { return d.DuplicateLinkEvents }, true},
	{"missing_clicks", func(d *reports.DataSafety) int { return d.MissingClicks }, false},
	{"duplicate_clicks", func(d *reports.DataSafety) int { return d.DuplicateClicks }, false},
}

// Classify turns one experiment's results into its outcome per stream. It never upgrades
// what the runner could not prove: an invalid measurement, a run error, a stream whose SLO
// had no data or whose baseline already failed, or an unsettled data check is unproven,
// neither held nor a weak spot.
func Classify(id string, faults []Fault, onPath []string, res *reports.Results, rates map[string]float64) Outcome {
	o := Outcome{ID: id, Faults: faults, OnPath: onPath, Verdict: res.Verdict, Valid: res.Valid, Streams: map[string]StreamOutcome{},
		DurationS: res.DurationS, Invalid: res.InvalidReasons}
	o.Reasons = append(o.Reasons, res.InvalidReasons...)
	if res.BlastRadius != nil {
		o.Affected = sorted(res.BlastRadius.AffectedServices)
	}
	runFailed := res.Verdict == reports.VerdictError || res.Verdict == reports.VerdictAborted || res.Verdict == reports.VerdictHalted || !res.Valid
	if runFailed {
		for _, r := range res.Reasons {
			// Decide repeats each invalid reason as "measurement invalid: …": say it once
			if !slices.Contains(res.InvalidReasons, strings.TrimPrefix(r, "measurement invalid: ")) {
				o.Reasons = append(o.Reasons, r)
			}
		}
	}
	names := map[string]bool{}
	for _, s := range res.Streams {
		names[s.Name] = true
	}
	for _, s := range res.SLOs {
		names[s.Stream] = true
	}
	for n := range names {
		so := StreamOutcome{Class: Held, Rate: rates[n]}
		if res.BlastRadius != nil {
			so.Impact = res.BlastRadius.UserImpact[n]
		}
		// A failure measured in one phase stands whatever another SLO of the stream could not
		// prove (no requests, or a pass on too few): it is no held, but it is a weak spot.
		// Only a baseline that already failed makes every failure after it unattributable.
		errs, slow, sick := false, false, false
		unprovenWhy := ""
		for _, s := range res.SLOs {
			if s.Stream != n {
				continue
			}
			if s.NoData {
				unprovenWhy = cmp.Or(unprovenWhy, fmt.Sprintf("%s %s had no requests", s.Phase, s.Threshold))
				continue
			}
			if s.Pass {
				// A baseline's pass proves no outcome (held is the fault's and the recovery's):
				// the explorer's baselines are shorter than the checks' counts
				// (explore.BaselineShare), and only a failure in them says something.
				if s.Phase == reports.PhaseBaseline {
					continue
				}
				if n, need, ok := underpowered(res, s); !ok {
					unprovenWhy = cmp.Or(unprovenWhy, fmt.Sprintf("%s %s passed on %d requests, too few to prove it (it needs %d)", s.Phase, s.Threshold, n, need))
				}
				continue
			}
			if s.Phase == reports.PhaseBaseline {
				so.Why, sick = cmp.Or(so.Why, fmt.Sprintf("the baseline already failed %s (%s): the system was not healthy before the fault", s.Threshold, value(s))), true
				continue
			}
			so.Failed = append(so.Failed, fmt.Sprintf("%s %s: %s", s.Phase, s.Threshold, value(s)))
			if s.Unit == reports.UnitMs {
				slow = true
			} else {
				errs = true // errors, or a rate or goodput that fell: requests did not succeed
			}
		}
		switch {
		case sick:
			so.Class = Unproven
		case errs:
			so.Class = Broken
		case slow:
			so.Class = Slowed
		case unprovenWhy != "":
			so.Class, so.Why = Unproven, unprovenWhy
		}
		if runFailed {
			so.Class, so.Why = Unproven, "the measurement is invalid or the run failed: "+strings.Join(o.Reasons, "; ")
		}
		o.Streams[n] = so
	}
	o.classifyData(res, runFailed)
	if !runFailed {
		o.Storms = storms(res.Mechanisms)
	}
	return o
}

// underpowered checks that a passing SLO result rests on enough requests for its
// threshold (verdict.Threshold.MinSamples): the explorer's phases are cut to what the checks
// need, so a pass on too few requests is no data, never held. n is the requests counted,
// need the minimum; ok is false when n < need.
func underpowered(res *reports.Results, s reports.SLOResult) (n, need int, ok bool) {
	t, err := verdict.ParseThreshold(s.Threshold)
	if err != nil {
		return 0, 0, false // a threshold the run judged but this cannot read proves nothing here
	}
	need = t.MinSamples()
	for _, st := range res.Streams {
		if st.Name != s.Stream {
			continue
		}
		for _, ph := range st.Phases {
			if ph.Phase == s.Phase {
				n = ph.Requests
				if t.OK {
					n -= ph.Errors
				}
			}
		}
	}
	return n, need, n >= need
}

// storms finds the edges whose calls retried back to back in the fault phase (from the
// attempt spans: the most retries one call made, and the waits between its attempts).
func storms(m *reports.Mechanisms) []RetryStorm {
	if m == nil {
		return nil
	}
	var out []RetryStorm
	for _, e := range sorted(keys(m.MaxRetriesPerCall)) {
		n := m.MaxRetriesPerCall[e]
		g, ok := m.RetryGaps[e]
		if n >= StormRetries && ok && g.Gaps > 0 && g.MedianMs < StormGapMs {
			out = append(out, RetryStorm{Edge: e, MaxRetries: n, MedianGapMs: g.MedianMs})
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// classifyData marks the streams whose data was lost; an unsettled or failed data check
// leaves a stream that held unproven (a broken or slowed one stays so).
func (o *Outcome) classifyData(res *reports.Results, runFailed bool) {
	d := res.DataSafety
	if d == nil || runFailed {
		return
	}
	lost := map[bool]bool{} // links? → lost
	for _, c := range dataCounters {
		if v := c.get(d); v > 0 {
			if o.Data == nil {
				o.Data = map[string]int{}
			}
			o.Data[c.name] = v
			lost[c.links] = true
		}
	}
	for n, so := range o.Streams {
		links := strings.HasPrefix(requestOf(res, n), "POST ")
		clicks := strings.HasPrefix(requestOf(res, n), "GET /r/")
		switch {
		case (links && lost[true]) || (clicks && lost[false]):
			so.Class = DataLost
			so.Why = "data lost: " + dataText(o.Data, links)
			if !d.Settled {
				// Still missing when the wait for analytics ran out: lost, or later than the
				// experiment's settle bound, which a user reading the counts cannot tell apart.
				so.Why = "data missing when the wait for analytics ran out (lost, or later than the bound): " + dataText(o.Data, links)
			}
		case (links || clicks) && (d.Error != "" || !d.Settled) && so.Class == Held:
			// an incomplete data check proves no held; a failure the client measured stands
			so.Class, so.Why = Unproven, "the data check did not complete: "+firstNonEmpty(d.Error, "analytics did not settle")
		}
		o.Streams[n] = so
	}
}

func requestOf(res *reports.Results, stream string) string {
	for _, s := range res.Streams {
		if s.Name == stream {
			return s.Request
		}
	}
	return ""
}

func dataText(data map[string]int, links bool) string {
	var parts []string
	for _, c := range dataCounters {
		if c.links == links && data[c.name] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.name, data[c.name]))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func value(s reports.SLOResult) string {
	switch s.Unit {
	case reports.UnitMs:
		return fmt.Sprintf("%.0f ms", s.Value)
	case reports.UnitRatio:
		return fmt.Sprintf("%.1f%%", s.Value*100)
	}
	return fmt.Sprintf("%.1f/s", s.Value)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
