package reports

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteMarkdown writes summary.md: the verdict first, then what was measured and why.
func WriteMarkdown(w io.Writer, r *Results) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }

	p("# %s\n\n", r.Scenario)
	expected := "as expected"
	if !r.AsExpected {
		expected = "NOT as expected"
	}
	p("**`%s`** %s (expected `%s`)\n\n", strings.ToUpper(r.Verdict), expected, r.ExpectedVerdict)
	if r.Description != "" {
		p("%s\n\n", strings.TrimSpace(r.Description))
	}
	p("Profile `%s` · seed %d · %s s · started %s", r.Profile, r.Seed, num(r.DurationS, 1), r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	if r.File != "" {
		p(" · `%s`", r.File)
	}
	p("\n\n")
	if len(r.Reasons) > 0 {
		p("Why:\n\n")
		for _, reason := range r.Reasons {
			p("- %s\n", reason)
		}
		p("\n")
	}
	if !r.Valid {
		p("> **Measurement invalid**: this run cannot pass.\n")
		for _, reason := range r.InvalidReasons {
			p("> - %s\n", reason)
		}
		p("\n")
	}
	if h := r.Halt; h != nil {
		p("> **HALTED** at %s s by %s: load stopped, faults healed (in %s s); the run proves nothing\n\n", num(h.AtS, 1), h.By, num(h.HealedInS, 2))
	}
	if a := r.Abort; a != nil {
		p("> **Aborted** at %s s: `%s` (faults healed in %s s)\n\n", num(a.AtS, 1), a.Condition, num(a.HealedInS, 2))
	}

	if len(r.Phases) > 0 {
		p("## Phases\n\n| phase | from (s) | to (s) |\n| --- | ---: | ---: |\n")
		for _, ph := range r.Phases {
			p("| %s | %s | %s |\n", ph.Name, num(ph.StartS, 1), num(ph.EndS, 1))
		}
		p("\n")
	}

	if len(r.Streams) > 0 {
		p("## Load\n\n")
		for _, st := range r.Streams {
			rate := num(st.Rate, 1) + "/s"
			if st.Schedule != "" {
				rate = st.Schedule
			}
			p("### %s: `%s` at %s\n\n", st.Name, cell(st.Request), rate)
			p("| phase | requests | rate (/s) | errors | p50 ms | p90 ms | p99 ms | max ms | send lag p99 ms |\n")
			p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
			for _, f := range st.Phases {
				rate := num(f.AchievedRate, 1)
				if f.AskedRate > 0 { // achieved over the wall-clock send window, of the asked rate
					rate += " of " + num(f.AskedRate, 1)
				}
				p("| %s | %d | %s | %d (%s) | %s | %s | %s | %s | %s |\n", f.Phase, f.Requests, rate,
					f.Errors, pct(f.ErrorRate), num(f.P50Ms, 2), num(f.P90Ms, 2), num(f.P99Ms, 2), num(f.MaxMs, 2), num(f.SendLagP99Ms, 2))
			}
			p("\n")
		}
	}

	if len(r.SLOs) > 0 {
		p("## SLOs\n\n| stream | phase | threshold | observed | result |\n| --- | --- | --- | ---: | --- |\n")
		for _, s := range r.SLOs {
			obs, res := formatValue(s.Value, s.Unit), passFail(s.Pass)
			if s.NoData {
				obs, res = "no data", "FAIL (no data)"
			}
			p("| %s | %s | `%s` | %s | %s |\n", cell(s.Stream), s.Phase, cell(s.Threshold), obs, res)
		}
		p("\n")
	}

	writeDesignBounds(p, r.DesignBounds)

	if len(r.Expectations) > 0 {
		p("## Expectations\n\n| what | expected | observed | result |\n| --- | --- | --- | --- |\n")
		for _, e := range r.Expectations {
			res := passFail(e.Pass)
			switch {
			case e.NotApplicable:
				res = "n/a"
			case e.NoData && !e.Pass:
				res = "FAIL (no data)"
			}
			p("| %s | %s | %s | %s |\n", cell(e.What), cell(e.Expected), cell(e.Observed), res)
		}
		p("\n")
	}

	p("## Faults\n\n")
	if len(r.Faults) == 0 {
		p("None.\n\n")
	} else {
		p("| fault | target | params | applied (s) | healed (s) | landed | error |\n| --- | --- | --- | ---: | ---: | --- | --- |\n")
		for _, f := range r.Faults {
			var params []string
			for _, k := range sortedMapKeys(f.Params) {
				params = append(params, k+"="+f.Params[k])
			}
			name := f.Fault
			if f.Background {
				name += " (background)"
			}
			landed := "-"
			if l := f.Landing; l != nil {
				landed = l.Status + ": " + l.Evidence
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", name, cell(f.Target), cell(strings.Join(params, " ")),
				num(f.AppliedAt, 2), num(f.HealedAt, 2), cell(landed), cell(f.Error))
		}
		p("\n")
	}

	p("## Data safety\n\n")
	if d := r.DataSafety; d == nil {
		p("Not checked.\n\n")
	} else {
		p("| check | result | detail |\n| --- | --- | --- |\n")
		for _, c := range dataChecks(d) {
			res := passFail(c.pass)
			if c.na {
				res = "n/a"
			}
			p("| %s | %s | %s |\n", c.name, res, cell(c.msg))
		}
		p("\nLinks acknowledged %d, checked %d, link events counted %d; redirects received %d, outcome unknown %d, clicks counted %d",
			d.LinksAcked, d.LinksChecked, d.LinkEventsCounted, d.ClicksAcked, d.ClicksUnknown, d.ClicksCounted)
		for _, k := range sortedMapKeys(d.DroppedClicks) {
			p("; redirect reports dropped (%s) %d", k, d.DroppedClicks[k])
		}
		p(".\n\n")
	}

	if br := r.BlastRadius; br != nil {
		p("## Blast radius\n\n")
		p("Origin: %s. Affected services: %s. Affected edges: %s.\n\n", list(br.Origins), list(br.AffectedServices), list(br.AffectedEdges))
		if br.LateDeliveries > 0 {
			p("Left out: %d requests that reached their service after the caller had given up (held in the network past a timeout or a hedge's win), with everything they called.\n\n", br.LateDeliveries)
		}
		if len(br.UnprovenServices) > 0 {
			p("Unproven (fewer than %d fault-phase calls, nothing to judge): %s.\n\n", br.Thresholds.MinFaultCalls, list(br.UnprovenServices))
		}
		var abs []string
		for _, si := range br.Services {
			if si.Absolute {
				abs = append(abs, si.Name)
			}
		}
		if len(abs) > 0 {
			p("Judged on absolute bounds (fewer than %d baseline calls): %s; affected at an error rate of %s or a p99 of %s ms.\n\n",
				br.Thresholds.MinBaselineCalls, list(abs), pct(br.Thresholds.AbsErrorRate), num(br.Thresholds.AbsLatencyMs, 0))
		}
		if len(br.UserImpact) > 0 {
			p("| stream | user impact |\n| --- | ---: |\n")
			for _, k := range sortedMapKeys(br.UserImpact) {
				p("| %s | %s |\n", k, pct(br.UserImpact[k]))
			}
			p("\n")
		}
		for _, path := range br.Propagation {
			stop := "reached the entry point"
			if !path.Reached {
				stop = fmt.Sprintf("stopped at %s by %s", path.StoppedAt, path.StoppedBy)
			}
			p("- %s: %s\n", strings.Join(path.Path, " → "), stop)
		}
		if len(br.Propagation) > 0 {
			p("\n")
		}
	}

	if m := r.Mechanisms; m != nil && len(m.BreakerTransitions) > 0 {
		p("## Breaker transitions\n\n| at (s) | service | edge | from | to |\n| ---: | --- | --- | --- | --- |\n")
		for _, t := range m.BreakerTransitions {
			p("| %s | %s | %s | %s | %s |\n", num(t.AtS, 2), t.Service, t.Edge, t.From, t.To)
		}
		p("\n")
	}
	if m := r.Mechanisms; m != nil && len(m.RetriesPerRequest) > 0 {
		// max_retries_per_request is judged on the most in one call; the mean is context.
		p("## Retries\n\nPer call: the fault phase's calls (the whole run's without one).\n\n")
		p("| edge | retries (run) | mean per call | most in one call | wait between attempts (min / median ms) |\n| --- | ---: | ---: | ---: | ---: |\n")
		for _, e := range sortedMapKeys(m.RetriesPerRequest) {
			wait := "—"
			if g, ok := m.RetryGaps[e]; ok {
				wait = num(g.MinMs, 1) + " / " + num(g.MedianMs, 1)
			}
			p("| %s | %d | %s | %d | %s |\n", e, m.Retries[e], num(m.RetriesPerRequest[e], 3), m.MaxRetriesPerCall[e], wait)
		}
		p("\n")
	}
	writeConformance(p, r.Conformance)
	if len(r.CPUWaits) > 0 {
		// The machine's share of any lateness: a thread that waits for a CPU runs its timers late.
		p("## CPU waits\n\nHow long each service's threads waited for a CPU during the load (the kernel's run queue, read every %s ms): in each interval, the most one thread waited.\n\n", num(r.CPUWaits[0].IntervalMs, 0))
		p("| service | intervals | longest ms | p99 ms | starved intervals |\n| --- | ---: | ---: | ---: | ---: |\n")
		for _, w := range r.CPUWaits {
			p("| %s | %d | %s | %s | %s%% |\n", w.Service, w.Intervals, num(w.LongestMs, 1), num(w.P99Ms, 1), num(w.StarvedPct, 1))
		}
		p("\n")
	}
	if err := b.Flush(); err != nil {
		return fmt.Errorf("reports: markdown: %w", err)
	}
	return nil
}

func num(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

func pct(ratio float64) string { return strconv.FormatFloat(ratio*100, 'f', 2, 64) + "%" }

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

func list(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// cell keeps a value inside its Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", "").Replace(s)
}
