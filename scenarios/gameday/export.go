package gameday

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/toxics"
)

// ErrNothingToReplay is returned by Export for a day that drove no load.
var ErrNothingToReplay = errors.New("gameday: no load stream ever ran: nothing to replay")

// Export writes the scenario that replays a game day: its load streams with their rate
// changes as stages, its faults at the times they were applied for as long as they lasted, and
// the SLOs the team set. The replay starts when the first stream started and ends when the last
// stream stopped or the last fault was healed. Notes become comments. Faults on one target that
// overlapped in time (a scenario forbids it) and faults outside the load are left out, each
// with a comment saying so.
func Export(rec Record) ([]byte, error) {
	t0, end := math.Inf(1), 0.0
	for _, st := range rec.Streams {
		for i, c := range st.Changes {
			if c.Rate > 0 {
				t0 = math.Min(t0, c.AtS)
				stop := rec.DurationS
				if i+1 < len(st.Changes) {
					stop = st.Changes[i+1].AtS
				}
				end = math.Max(end, stop)
			}
		}
	}
	if math.IsInf(t0, 1) {
		return nil, ErrNothingToReplay
	}
	var b strings.Builder
	var skipped []string
	faults := keptFaults(rec.Faults, t0, &skipped)
	for _, f := range faults {
		end = math.Max(end, f.HealedAt)
	}
	end = math.Min(end, rec.DurationS)
	dur := max(time.Duration(math.Ceil((end-t0)*1000))*time.Millisecond, time.Second)
	if dur > scenarios.MaxDuration {
		return nil, fmt.Errorf("gameday: the load ran for %s, a scenario lasts at most %s", dur, scenarios.MaxDuration)
	}
	fmt.Fprintf(&b, "# Replays the game day of %s (run directory record %s), from when\n", rec.StartedAt.UTC().Format(time.RFC3339), RecordFile)
	fmt.Fprintf(&b, "# the first load stream started (%.1fs into the day). Written by `faultline gameday export`.\n", t0)
	fmt.Fprintf(&b, "name: gameday-%s\n", strings.ToLower(rec.StartedAt.UTC().Format("20060102-1504")))
	fmt.Fprintf(&b, "description: %s\n", quote(fmt.Sprintf("Replay of the game day of %s: %d stream(s), %d fault(s).", rec.StartedAt.UTC().Format("2006-01-02 15:04 MST"), len(rec.Streams), len(faults))))
	fmt.Fprintf(&b, "profile: %s\n", quote(orDefault(rec.Profile, "default")))
	fmt.Fprintf(&b, "seed: %d\n", max(rec.Seed, 1))
	fmt.Fprintf(&b, "duration: %s\n", dur)
	codes := false
	b.WriteString("load:\n")
	for _, st := range rec.Streams {
		line, uses, ok := streamYAML(st, t0, dur)
		if !ok {
			fmt.Fprintf(&b, "  # stream %s sent nothing in the replayed window: left out\n", st.Name)
			continue
		}
		codes = codes || uses
		b.WriteString(line)
	}
	if codes {
		fmt.Fprintf(&b, "setup: {links: %d}\n", setupLinks)
	}
	if len(faults) > 0 || len(skipped) > 0 {
		b.WriteString("faults:\n")
	}
	for _, f := range faults {
		line, err := faultYAML(f, t0, dur)
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		fmt.Fprintf(&b, "  # injected by %s\n%s", orDefault(f.Who, "someone"), line)
	}
	for _, s := range skipped {
		fmt.Fprintf(&b, "  # left out: %s\n", s)
	}
	if len(rec.SLOs) > 0 {
		b.WriteString("slos:\n")
		for _, slo := range rec.SLOs {
			fmt.Fprintf(&b, "  - {load: %s", quote(slo.Load))
			if len(slo.Phases) > 0 {
				fmt.Fprintf(&b, ", phases: [%s]", strings.Join(slo.Phases, ", "))
			}
			q := make([]string, len(slo.Thresholds))
			for i, t := range slo.Thresholds {
				q[i] = quote(t)
			}
			fmt.Fprintf(&b, ", thresholds: [%s]}\n", strings.Join(q, ", "))
		}
	} else {
		b.WriteString("# No SLO was set during the game day: add some, or the replay judges nothing.\n")
	}
	b.WriteString("expect:\n  verdict: pass\n")
	if len(rec.Notes) > 0 {
		b.WriteString("# Notes of the game day (seconds into the replay):\n")
		for _, n := range rec.Notes {
			text := strings.Join(strings.Fields(n.Text), " ")
			fmt.Fprintf(&b, "#   %6.1fs %s: %s\n", n.AtS-t0, orDefault(n.Who, "someone"), text)
		}
	}
	return []byte(b.String()), nil
}

// keptFaults shifts nothing yet; it drops faults outside the load window and the later of two
// overlapping on one target, saying why.
func keptFaults(all []reports.FaultEvent, t0 float64, skipped *[]string) []reports.FaultEvent {
	sorted := append([]reports.FaultEvent(nil), all...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].AppliedAt < sorted[j].AppliedAt })
	busy := map[string]float64{} // target -> healed at
	var out []reports.FaultEvent
	for _, f := range sorted {
		switch {
		case f.HealedAt >= 0 && f.HealedAt <= t0:
			*skipped = append(*skipped, fmt.Sprintf("%s on %s (%.1fs-%.1fs) ended before the load started", f.Fault, f.Target, f.AppliedAt, f.HealedAt))
			continue
		case f.AppliedAt < busy[f.Target]:
			*skipped = append(*skipped, fmt.Sprintf("%s on %s at %.1fs overlapped another fault on %s (a scenario allows one at a time per target)", f.Fault, f.Target, f.AppliedAt, f.Target))
			continue
		}
		busy[f.Target] = f.HealedAt
		out = append(out, f)
	}
	return out
}

// streamYAML writes one stream: a rate when it ran the whole replay at one rate, else stages
// (0/s where it was stopped).
func streamYAML(st StreamRecord, t0 float64, dur time.Duration) (string, bool, bool) {
	method, path, err := scenarios.ParseRequest(st.Request)
	if err != nil {
		return "", false, false
	}
	type stage struct {
		rate float64
		from time.Duration
	}
	var stages []stage
	for _, c := range st.Changes {
		at := max(ms(c.AtS-t0), 0)
		if at >= dur {
			break
		}
		if n := len(stages); n > 0 && stages[n-1].from == at {
			stages[n-1].rate = c.Rate
			continue
		}
		if len(stages) == 0 && at > 0 {
			stages = append(stages, stage{0, 0})
		}
		stages = append(stages, stage{c.Rate, at})
	}
	var merged []stage
	for _, s := range stages {
		if n := len(merged); n > 0 && merged[n-1].rate == s.rate {
			continue
		}
		merged = append(merged, s)
	}
	sends := false
	for _, s := range merged {
		sends = sends || s.rate > 0
	}
	if !sends {
		return "", false, false
	}
	uses := strings.Contains(path, "{code}")
	head := fmt.Sprintf("  - {name: %s, request: %s", quote(st.Name), quote(method+" "+path))
	if len(merged) == 1 {
		return fmt.Sprintf("%s, rate: %s}\n", head, rateText(merged[0].rate)), uses, true
	}
	parts := make([]string, len(merged))
	for i, s := range merged {
		next := dur
		if i+1 < len(merged) {
			next = merged[i+1].from
		}
		parts[i] = fmt.Sprintf("{rate: %s, for: %s}", rateText(s.rate), next-s.from)
	}
	return fmt.Sprintf("%s, stages: [%s]}\n", head, strings.Join(parts, ", ")), uses, true
}

// faultYAML writes one fault shifted to the replay's clock.
func faultYAML(f reports.FaultEvent, t0 float64, dur time.Duration) (string, error) {
	ft, err := toxics.Lookup(f.Fault)
	if err != nil {
		return "", fmt.Errorf("%s on %s: %v", f.Fault, f.Target, err)
	}
	at := max(ms(f.AppliedAt-t0), 0)
	until := dur
	if f.HealedAt >= 0 {
		until = min(ms(f.HealedAt-t0), dur)
	}
	length := until - at
	if at >= dur || length <= 0 {
		return "", fmt.Errorf("%s on %s at %.1fs: outside the load", f.Fault, f.Target, f.AppliedAt)
	}
	if x, err := strconv.ParseFloat(f.Params["toxicity"], 64); err == nil && x < 1 {
		return "", fmt.Errorf("%s on %s at %.1fs: toxicity %s is a share of connections, which a scenario refuses (pooled connections make it land on every call or on none); a share of requests is http_error, http_latency or http_reset with share", f.Fault, f.Target, f.AppliedAt, f.Params["toxicity"])
	}
	var kv []string
	keys := make([]string, 0, len(f.Params))
	for k := range f.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if f.Fault == "crash" && k == "restart_after" {
			continue // the fault's length says it
		}
		kv = append(kv, fmt.Sprintf("%s: %s", k, scalar(f.Params[k])))
	}
	extra := ""
	if len(kv) > 0 {
		extra = ", " + strings.Join(kv, ", ")
	}
	switch {
	case ft.Kind() == toxics.Network:
		return fmt.Sprintf("  - {at: %s, for: %s, edge: %s, toxic: %s%s}\n", at, length, quote(f.Target), f.Fault, extra), nil
	case f.Fault == "crash":
		return fmt.Sprintf("  - {at: %s, crash: %s, restart_after: %s%s}\n", at, f.Target, length, extra), nil
	case f.Fault == "restart":
		return fmt.Sprintf("  - {at: %s, restart: %s%s}\n", at, f.Target, extra), nil
	}
	return fmt.Sprintf("  - {at: %s, for: %s, component: %s, fault: %s%s}\n", at, length, f.Target, f.Fault, extra), nil
}

func ms(s float64) time.Duration { return time.Duration(math.Round(s*1000)) * time.Millisecond }

func rateText(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) + "/s" }

var plain = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)

// scalar writes a parameter as typed on the CLI: numbers and durations plain, text quoted.
func scalar(v string) string {
	if plain.MatchString(v) {
		return v
	}
	return quote(v)
}

// quote is a YAML double-quoted string.
func quote(s string) string { return strconv.Quote(s) }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
