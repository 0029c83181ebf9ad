package explore

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/system/policy"
)

// Load faults (issue 14 point 7): a surge of one load stream, and the mild latency a surge
// needs to meet. A bulkhead or a concurrency limiter only acts when more calls arrive than the
// pool behind it serves; the catalogue shows it with a surge of creations while link->link-db
// is 50 ms away (overload.yaml, surge-adaptive.yaml). The constant-rate load never does.
const (
	// ClassSurge multiplies one load stream's rate during the fault phase. Its target is a
	// stream of the base's load (the path map's stream names), not an edge or a component.
	ClassSurge = "surge"
	// ClassMild is latency well inside the caller's timeout: every call absorbs it, but each
	// holds its pooled connection longer, so the callee serves fewer calls per second. Alone
	// it breaks nothing (planned only with a surge: RuleUnderSurge).
	ClassMild = "latency-mild"
)

// SurgeType is the surge's fault type as the plan and the report spell it: not a registered
// fault type (nothing is injected): the generated scenario gives the stream `stages:`.
const SurgeType = "surge"

// SurgeFactor is how many times its rate a surged stream asks during the fault phase: at the
// built-in mix's 50 creations/s, 200/s, the catalogue's surge (overload.yaml,
// surge-adaptive.yaml, measured on this 2-core machine): above the ~170/s past which link's 32
// pooled connections, with link->link-db 50 ms away, collapse without a bulkhead, and under
// what saturates the lab's cores (240/s starved the load generator under the collapsing
// mutants: invalid runs). 3 × (150/s) stayed under the collapse point.
const SurgeFactor = 4

// MildShare is the mild latency as a share of the caller's timeout: link->link-db's 500 ms
// gives overload.yaml's 50 ms (a creation's transaction, 4 round trips, takes ~200 ms: slow,
// never cut). NoTimeoutMild is the one on an edge without a timeout (a tenth of the 500 ms
// the gray latency's fixed 250 ms is half of).
const (
	MildShare     = 0.1
	NoTimeoutMild = 50 * time.Millisecond
)

// SurgeThresholds are the surged stream's SLO in the fault phase. The design promises to shed
// the excess, not to serve it: errors are expected, so what it must keep is its goodput — at
// least the base rate, what the stream got before the surge (a pool that collapses serves
// less than that: overload.yaml's unbounded-bulkhead 16/s of 50) — and its admitted requests'
// latency (the base's latency thresholds on successful requests: p(99)_ok). The base's
// errors, rate and goodput thresholds give way to that goodput.
func SurgeThresholds(slo verdict.SLO, rate float64) []string {
	out := []string{"goodput>=" + rateText(rate) + "/s"}
	for _, t := range slo.Thresholds {
		if t.Unit != reports.UnitMs {
			continue
		}
		raw := t.Raw
		if i := strings.Index(raw, t.Op); !t.OK && i > 0 {
			raw = strings.TrimSpace(raw[:i]) + "_ok" + raw[i:]
		}
		out = append(out, raw)
	}
	return out
}

// surgeSLONote says, above the surged stream's fault-phase SLO, why it differs.
func surgeSLONote(f Fault, rate float64) string {
	return fmt.Sprintf("%s surges to %s/s in the fault phase: the excess may be shed; the stream keeps at least its base %s/s of successes and its latency on those", f.Target, rateText(SurgeRate(f, rate)), rateText(rate))
}

// SurgeLandSlack is how far under its surge rate a surged stream's fault phase may send and
// the surge still count as landed: the fault phase is the surge's window widened by a paired
// fault's apply and heal (tens of milliseconds of the base rate in a phase of seconds). At
// 10 % the phase still sent 2.7 × the base rate.
const SurgeLandSlack = 0.1

// IsSurge says whether the fault is a load surge (its target is a stream).
func IsSurge(f Fault) bool { return f.Class == ClassSurge }

func mild(p *policy.Profile, edge string) (map[string]any, string, bool) {
	const why = "slow, never cut; it only costs the callee capacity: tried under a surge"
	if t := callerTimeout(p, edge); t > 0 {
		d := wholeMs(time.Duration(MildShare * float64(t)))
		return map[string]any{"latency": d.String()}, fmt.Sprintf("%.1f × the caller's timeout %s: %s", MildShare, t, why), true
	}
	return map[string]any{"latency": NoTimeoutMild.String()},
		fmt.Sprintf("no timeout on this edge in profile %s: a fixed %s, %s", p.Name, NoTimeoutMild, why), true
}

// Surge is the surge of one stream of the load.
func Surge(stream string) Fault {
	return Fault{Class: ClassSurge, Type: SurgeType, Target: stream, Params: map[string]any{"factor": SurgeFactor},
		Why: fmt.Sprintf("%d × the stream's rate in the fault phase, as overload.yaml and surge-adaptive.yaml: past what a pool serves once its calls slow (a mild latency on its way, present for the whole experiment), under what saturates the lab's cores; judged on goodput (at least the base rate) and the admitted requests' latency; on loopback and bounded like all the load", SurgeFactor)}
}

// surgeFactor is a surge's factor (SurgeFactor when the parameter is missing or unreadable).
func surgeFactor(f Fault) float64 {
	switch v := f.Params["factor"].(type) {
	case int:
		return float64(v)
	case float64:
		return v
	}
	return SurgeFactor
}

// SurgeRate is the rate a surge asks of a stream whose base rate is rate, at most the
// scenario format's bound per stream.
func SurgeRate(f Fault, rate float64) float64 { return min(surgeFactor(f)*rate, scenarios.MaxRate) }

// surgeOf finds the surge on a stream among faults.
func surgeOf(faults []Fault, stream string) (Fault, bool) {
	i := slices.IndexFunc(faults, func(f Fault) bool { return IsSurge(f) && f.Target == stream })
	if i < 0 {
		return Fault{}, false
	}
	return faults[i], true
}

// SurgeNotLanded is the landing rule of a surge: it landed when its stream's fault phase sent
// at least (1 - SurgeLandSlack) × the surge rate, as the load generator measured it (the
// phase's requests over its wall-clock send window, reports.PhaseFigure.AchievedRate), and the
// schedule asked it (AskedRate: the phase is the surge's window, not the base rate around it).
// It returns why, for each surge that did not: such a run tested nothing, never a pass nor a
// kill. rates are the base's rates.
func SurgeNotLanded(faults []Fault, res *reports.Results, rates map[string]float64) []string {
	var why []string
	for _, f := range faults {
		if !IsSurge(f) {
			continue
		}
		want := SurgeRate(f, rates[f.Target])
		floor := (1 - SurgeLandSlack) * want
		var ph *reports.PhaseFigure
		for i := range res.Streams {
			if res.Streams[i].Name != f.Target {
				continue
			}
			for j := range res.Streams[i].Phases {
				if res.Streams[i].Phases[j].Phase == reports.PhaseFault {
					ph = &res.Streams[i].Phases[j]
				}
			}
		}
		switch {
		case ph == nil || ph.Requests == 0 || ph.SendWindowS <= 0:
			why = append(why, fmt.Sprintf("surge on %s did not land: no request of the stream in the fault phase (asked %.0f/s)", f.Target, want))
		case ph.AchievedRate < floor:
			why = append(why, fmt.Sprintf("surge on %s did not land: the fault phase sent %.1f/s (%d requests in %.2f s), under %.0f %% of the %.0f/s asked: the generator fell behind or the phase is not the surge",
				f.Target, ph.AchievedRate, ph.Requests, ph.SendWindowS, 100*(1-SurgeLandSlack), want))
		case ph.AskedRate > 0 && ph.AskedRate < floor:
			why = append(why, fmt.Sprintf("surge on %s did not land: the fault phase asked %.1f/s, under %.0f %% of the %.0f/s surge: the phase is mostly not the surge's window",
				f.Target, ph.AskedRate, 100*(1-SurgeLandSlack), want))
		}
	}
	return why
}

// MarkSurgeLanding applies the surge landing rule to a run's results: a surge that did not
// land makes the measurement invalid (Classify then proves nothing from it).
func MarkSurgeLanding(faults []Fault, res *reports.Results, rates map[string]float64) {
	verdict.MarkInvalid(res, SurgeNotLanded(faults, res, rates)...)
}
