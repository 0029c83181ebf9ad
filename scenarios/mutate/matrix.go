package mutate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/mutants"
)

// Kill is one scenario × mutant, over every repeat: caught only when every repeat was caught
// (a kill that comes and goes is luck, not verdict power).
type Kill struct {
	Mutant string
	Runs   []verdict.Kill // one per repeat, in order
	Dirs   []string       // the run directory of each repeat
}

// Outcome is Caught when every repeat was caught; otherwise the first repeat's outcome that
// was not (MISSED before ERROR: a miss is the stronger statement).
func (k Kill) Outcome() string {
	if len(k.Runs) == 0 {
		return verdict.Errored
	}
	out := verdict.Caught
	for _, r := range k.Runs {
		switch {
		case r.Outcome == verdict.Missed:
			return verdict.Missed
		case r.Outcome != verdict.Caught:
			out = r.Outcome
		}
	}
	return out
}

// Caught counts the repeats that were caught.
func (k Kill) Caught() int {
	n := 0
	for _, r := range k.Runs {
		if r.Outcome == verdict.Caught {
			n++
		}
	}
	return n
}

// By lists the kinds of check that caught the mutant in any repeat, sorted.
func (k Kill) By() []string {
	var by []string
	for _, r := range k.Runs {
		for _, b := range r.By {
			if !slices.Contains(by, b) {
				by = append(by, b)
			}
		}
	}
	slices.Sort(by)
	return by
}

// Because says why, per repeat when there were several.
func (k Kill) Because() string {
	if len(k.Runs) == 1 {
		return strings.Join(k.Runs[0].Because, "; ")
	}
	parts := make([]string, len(k.Runs))
	for i, r := range k.Runs {
		parts[i] = fmt.Sprintf("run %d %s: %s", i+1, r.Outcome, strings.Join(r.Because, "; "))
	}
	return strings.Join(parts, " | ")
}

// Row is one scenario: its own run and its mutants.
type Row struct {
	Scenario *scenarios.Scenario
	Own      *reports.Results
	Kills    []Kill
}

// AsExpected says whether every own run passed and every listed mutant was caught every time.
func AsExpected(rows []Row) bool { return NotAsExpected(rows) == "" }

// killLine is one scenario × mutant line: outcome and why.
func killLine(r Row, k Kill) string {
	return fmt.Sprintf("- %s × %s: %s — %s", r.Scenario.Name, k.Mutant, k.Outcome(), k.Because())
}

// Matrix renders the kill matrix as Markdown: one row per scenario, one column per mutant any
// scenario lists, then why each listed mutant was (or was not) caught. With repeats a caught
// cell says how many of them caught it.
func Matrix(rows []Row) string {
	var listed []string
	repeats := 1
	for _, r := range rows {
		for _, k := range r.Kills {
			if !slices.Contains(listed, k.Mutant) {
				listed = append(listed, k.Mutant)
			}
			repeats = max(repeats, len(k.Runs))
		}
	}
	slices.Sort(listed)
	var b strings.Builder
	b.WriteString("| scenario | own profile |")
	for _, m := range listed {
		fmt.Fprintf(&b, " %s |", m)
	}
	b.WriteString("\n|---|---|")
	for range listed {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	caught, runs := map[string]int{}, map[string]int{}
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s %s |", r.Scenario.Name, r.Own.Profile, r.Own.Verdict)
		for _, m := range listed {
			cell := "·"
			for _, k := range r.Kills {
				if k.Mutant != m {
					continue
				}
				runs[m]++
				cell = k.Outcome()
				if repeats > 1 {
					cell += fmt.Sprintf(" %d/%d", k.Caught(), len(k.Runs))
				}
				if k.Outcome() == verdict.Caught {
					caught[m]++
				}
				if by := k.By(); len(by) > 0 {
					cell += " (" + strings.Join(by, ", ") + ")"
				}
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("| **caught by** | |")
	for _, m := range listed {
		fmt.Fprintf(&b, " %d/%d |", caught[m], runs[m])
	}
	b.WriteString("\n\n`·` = not listed in the scenario's controls; a caught cell names the kinds of check that caught it")
	if repeats > 1 {
		fmt.Fprintf(&b, "; each mutant ran %d times and counts as caught only when every run caught it", repeats)
	}
	b.WriteString(". Why each listed mutant was (or was not) caught:\n\n")
	for _, r := range rows {
		for _, k := range r.Kills {
			b.WriteString(killLine(r, k))
			// A code mutant's patch names the check that must catch it: shown beside the
			// checks that did, so a kill for the wrong reason is seen.
			if name, ok := strings.CutPrefix(k.Mutant, CodePrefix); ok {
				if m, ok := mutants.Get(name); ok {
					fmt.Fprintf(&b, " (its patch expects: %s)", m.CaughtBy)
				}
			}
			b.WriteString("\n")
		}
	}
	b.WriteString(NotAsExpected(rows))
	return b.String()
}

// NotAsExpected names every own run that did not pass and every listed mutant not caught every
// time, with why, or is empty. It ends the matrix so that the tail of a CI log, often all a
// reader gets, says what went wrong and not only that something did.
func NotAsExpected(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		if r.Own.Verdict != reports.VerdictPass {
			fmt.Fprintf(&b, "- %s with its own profile %s: %s — %s\n", r.Scenario.Name, r.Own.Profile,
				r.Own.Verdict, strings.Join(r.Own.Reasons, "; "))
		}
		for _, k := range r.Kills {
			if k.Outcome() != verdict.Caught {
				b.WriteString(killLine(r, k) + "\n")
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\n**Not as expected:**\n\n" + b.String()
}
