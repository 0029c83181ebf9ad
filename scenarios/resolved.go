package scenarios

import (
	"strconv"

	"github.com/goccy/go-yaml"

	"github.com/faultline/faultline/reports/verdict"
)

// resolvedView writes a scenario back in its own file format with every default explicit and
// every shorthand expanded, so the dump parses to the same scenario.
func resolvedView(s *Scenario) yaml.MapSlice {
	out := yaml.MapSlice{
		{Key: "name", Value: s.Name},
	}
	if s.Description != "" {
		out = append(out, yaml.MapItem{Key: "description", Value: s.Description})
	}
	out = append(out,
		yaml.MapItem{Key: "profile", Value: s.Profile},
		yaml.MapItem{Key: "seed", Value: s.Seed},
		yaml.MapItem{Key: "duration", Value: s.Duration.String()},
	)
	var load []yaml.MapSlice
	for _, st := range s.Load {
		m := yaml.MapSlice{{Key: "name", Value: st.Name}, {Key: "request", Value: st.Request}}
		if st.Ramp != nil {
			m = append(m, yaml.MapItem{Key: "ramp", Value: yaml.MapSlice{
				{Key: "from", Value: rateText(st.Ramp.From)}, {Key: "to", Value: rateText(st.Ramp.To)}, {Key: "over", Value: st.Ramp.Over.String()},
			}})
		} else if len(st.Stages) > 0 {
			var stages []yaml.MapSlice
			for _, sg := range st.Stages {
				stages = append(stages, yaml.MapSlice{{Key: "rate", Value: rateText(sg.Rate)}, {Key: "for", Value: sg.For.String()}})
			}
			m = append(m, yaml.MapItem{Key: "stages", Value: stages})
		} else {
			m = append(m, yaml.MapItem{Key: "rate", Value: rateText(st.Rate)})
		}
		if st.Body != "" {
			m = append(m, yaml.MapItem{Key: "body", Value: st.Body})
		}
		if st.UsesCodes() {
			m = append(m, yaml.MapItem{Key: "codes", Value: st.Codes})
		}
		load = append(load, m)
	}
	out = append(out, yaml.MapItem{Key: "load", Value: load})
	out = append(out, yaml.MapItem{Key: "setup", Value: yaml.MapSlice{{Key: "links", Value: s.Setup.Links}, {Key: "warm_cache", Value: s.Setup.Warm()}}})
	faults := []yaml.MapSlice{}
	for _, f := range s.Faults {
		m := yaml.MapSlice{{Key: "at", Value: f.At.String()}}
		if f.For > 0 {
			m = append(m, yaml.MapItem{Key: "for", Value: f.For.String()})
		}
		if f.Edge != "" {
			m = append(m, yaml.MapItem{Key: "edge", Value: f.Edge})
		}
		if f.Component != "" {
			m = append(m, yaml.MapItem{Key: "component", Value: f.Component})
		}
		m = append(m, yaml.MapItem{Key: "fault", Value: f.Fault})
		if f.Background {
			m = append(m, yaml.MapItem{Key: "background", Value: true})
		}
		for _, k := range sortedKeys(f.Params) {
			var v any = f.Params[k]
			if typed, ok := f.paramVals[k]; ok {
				v = typed // 0.5 stays a number, 400 stays milliseconds
			}
			m = append(m, yaml.MapItem{Key: k, Value: v})
		}
		faults = append(faults, m)
	}
	out = append(out, yaml.MapItem{Key: "faults", Value: faults})
	slos := []yaml.MapSlice{}
	for _, slo := range s.SLOs {
		slos = append(slos, yaml.MapSlice{{Key: "load", Value: slo.Load}, {Key: "phases", Value: slo.Phases}, {Key: "thresholds", Value: slo.Raw()}})
	}
	out = append(out, yaml.MapItem{Key: "slos", Value: slos})
	out = append(out, yaml.MapItem{Key: "expect", Value: expectView(s.Expect)})
	blast := yaml.MapSlice{}
	if s.Blast.ErrorRateDelta > 0 {
		blast = append(blast, yaml.MapItem{Key: "error_rate_delta", Value: verdict.FormatPercent(s.Blast.ErrorRateDelta)})
	}
	if s.Blast.LatencyFactor > 0 {
		blast = append(blast, yaml.MapItem{Key: "latency_factor", Value: s.Blast.LatencyFactor})
	}
	if s.Blast.LatencyMinMs > 0 {
		blast = append(blast, yaml.MapItem{Key: "latency_min_ms", Value: s.Blast.LatencyMinMs})
	}
	if s.Blast.AbsErrorRate > 0 {
		blast = append(blast, yaml.MapItem{Key: "abs_error_rate", Value: verdict.FormatPercent(s.Blast.AbsErrorRate)})
	}
	if s.Blast.AbsLatencyMs > 0 {
		blast = append(blast, yaml.MapItem{Key: "abs_latency_ms", Value: s.Blast.AbsLatencyMs})
	}
	if len(blast) > 0 {
		out = append(out, yaml.MapItem{Key: "blast", Value: blast})
	}
	if len(s.AbortWhen) > 0 {
		var raws []string
		for _, a := range s.AbortWhen {
			raws = append(raws, a.Raw)
		}
		out = append(out, yaml.MapItem{Key: "abort_when", Value: raws})
	}
	if len(s.Controls) > 0 {
		out = append(out, yaml.MapItem{Key: "controls", Value: s.Controls})
	}
	if len(s.CodeControls) > 0 {
		out = append(out, yaml.MapItem{Key: "code_controls", Value: s.CodeControls})
	}
	return out
}

func expectView(e verdict.Expect) yaml.MapSlice {
	out := yaml.MapSlice{{Key: "verdict", Value: e.Verdict}}
	if b := e.BlastRadius; b != nil {
		m := yaml.MapSlice{}
		if b.ContainedTo != nil {
			m = append(m, yaml.MapItem{Key: "contained_to", Value: b.ContainedTo})
		}
		if b.Unaffected != nil {
			m = append(m, yaml.MapItem{Key: "unaffected", Value: b.Unaffected})
		}
		if b.UserImpact != nil {
			ui := yaml.MapSlice{}
			for _, k := range sortedKeys(b.UserImpact) {
				ui = append(ui, yaml.MapItem{Key: k, Value: b.UserImpact[k].Raw})
			}
			m = append(m, yaml.MapItem{Key: "user_impact", Value: ui})
		}
		if b.MaxAffectedServices != nil {
			m = append(m, yaml.MapItem{Key: "max_affected_services", Value: *b.MaxAffectedServices})
		}
		if b.AllowUnproven != nil {
			m = append(m, yaml.MapItem{Key: "allow_unproven", Value: b.AllowUnproven})
		}
		out = append(out, yaml.MapItem{Key: "blast_radius", Value: m})
	}
	if mech := e.Mechanisms; mech != nil {
		m := yaml.MapSlice{}
		if mech.Breakers != nil {
			var bs []yaml.MapSlice
			for _, b := range mech.Breakers {
				bm := yaml.MapSlice{{Key: "edge", Value: b.Edge}}
				if b.OpensWithin > 0 {
					bm = append(bm, yaml.MapItem{Key: "opens_within", Value: b.OpensWithin.String()})
				}
				if b.ClosesWithin > 0 {
					bm = append(bm, yaml.MapItem{Key: "closes_within", Value: b.ClosesWithin.String()})
				}
				bs = append(bs, bm)
			}
			m = append(m, yaml.MapItem{Key: "breakers", Value: bs})
		}
		if mech.MaxRetriesPerRequest != nil {
			r := yaml.MapSlice{}
			for _, k := range sortedKeys(mech.MaxRetriesPerRequest) {
				r = append(r, yaml.MapItem{Key: k, Value: mech.MaxRetriesPerRequest[k]})
			}
			m = append(m, yaml.MapItem{Key: "max_retries_per_request", Value: r})
		}
		out = append(out, yaml.MapItem{Key: "mechanisms", Value: m})
	}
	if dd := e.Data; dd != nil {
		m := yaml.MapSlice{}
		for _, kv := range []struct {
			k string
			v *int
		}{{"lost_links", dd.LostLinks}, {"duplicate_clicks", dd.DuplicateClicks}, {"missing_clicks", dd.MissingClicks},
			{"lost_link_events", dd.LostLinkEvents}, {"duplicate_link_events", dd.DuplicateLinkEvents}} {
			if kv.v != nil {
				m = append(m, yaml.MapItem{Key: kv.k, Value: *kv.v})
			}
		}
		if dd.CaughtUpWithin > 0 {
			m = append(m, yaml.MapItem{Key: "caught_up_within", Value: dd.CaughtUpWithin.String()})
		}
		out = append(out, yaml.MapItem{Key: "data", Value: m})
	}
	if c := e.Conformance; c != nil {
		out = append(out, yaml.MapItem{Key: "conformance", Value: conformanceView(c)})
	}
	return out
}

// rateText writes a rate so it parses back exactly.
func rateText(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) + "/s" }
