package compare

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Markdown writes the comparison as GitHub-flavoured Markdown.
func (c *Comparison) Markdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	title := c.Scenario
	if title == "" {
		title = "runs"
	}
	fmt.Fprintf(bw, "# Comparison: %s\n\n", mdEscape(title))
	hdr := []string{"label", "runs", "verdicts", "as expected"}
	var rows [][]string
	for _, g := range c.Groups {
		rows = append(rows, []string{g.Label, fmt.Sprint(len(g.Runs)), g.Verdicts(), fmt.Sprintf("%d/%d", g.AsExpected(), len(g.Runs))})
	}
	mdTable(bw, hdr, rows)
	fmt.Fprintf(bw, "\n%s\n", RuleText(c.Repeats))
	if hs := c.Highlights(); len(hs) > 0 {
		fmt.Fprintf(bw, "\n## Clear differences\n\n")
		for _, h := range hs {
			fmt.Fprintf(bw, "- %s\n", mdEscape(h))
		}
	}
	var stream string
	for _, r := range c.Streams {
		if r.Stream != stream {
			stream = r.Stream
			fmt.Fprintf(bw, "\n## Stream %s\n\n", mdEscape(stream))
			mdTable(bw, c.headers("phase", "metric"), nil)
		}
		mdRow(bw, append([]string{r.Phase, r.Metric}, c.cells(r)...))
	}
	if len(c.UserImpact) > 0 {
		fmt.Fprintf(bw, "\n## User impact (fault phase)\n\n")
		mdTable(bw, c.headers("stream"), nil)
		for _, r := range c.UserImpact {
			mdRow(bw, append([]string{r.Stream}, c.cells(r)...))
		}
	}
	if len(c.Mechanisms) > 0 {
		fmt.Fprintf(bw, "\n## Mechanisms\n\n")
		mdTable(bw, c.headers("edge", "metric"), nil)
		for _, r := range c.Mechanisms {
			mdRow(bw, append([]string{orDash(r.Stream), r.Metric}, c.cells(r)...))
		}
	}
	if sw := c.Sweep; sw != nil {
		fmt.Fprintf(bw, "\n## Sweep of %s\n\n", mdEscape(sw.Param))
		h, rows := c.SweepTable()
		mdTable(bw, h, rows)
	}
	return bw.Flush()
}

// RuleText explains how winners were called, for both renderings.
func RuleText(repeats bool) string {
	s := "Winner rule: the best mean is marked ★ only when its min–max range over repeats does not overlap any other label's range and it leads by at least the smallest difference worth a call (0.5 ms, 0.5/s, 0.1 s, 0.1 percentage point); otherwise the row says \"within noise\"."
	if !repeats {
		s += " Every label ran once, so there is no noise estimate: a run is marked only when it is at least twice as good as the runner-up. Repeat runs (--repeat N) for finer calls."
	} else {
		s += " Where a label ran once, a call needs a twofold lead and is flagged \"single runs\"."
	}
	return s + " Latencies (p50 ok, p99 ok) are of successful requests only, so a profile that fails fast never looks fast: read them with the errors and throughput rows."
}

// headers is the first columns, one per group, and the call.
func (c *Comparison) headers(first ...string) []string {
	h := append([]string(nil), first...)
	for _, g := range c.Groups {
		h = append(h, g.Label)
	}
	return append(h, "call")
}

// cells is one row's group values, the winner starred, and the call.
func (c *Comparison) cells(r MetricRow) []string {
	var out []string
	for i, s := range r.Values {
		cell := Cell(s, r.Unit)
		if i == r.Winner {
			cell = "**" + cell + "** ★"
		}
		out = append(out, cell)
	}
	return append(out, c.CallText(r))
}

// CallText says what the row concluded.
func (c *Comparison) CallText(r MetricRow) string {
	var s string
	switch r.Call {
	case CallBest:
		s = "best: " + c.Groups[r.Winner].Label
	case CallNoise, CallTie:
		s = r.Call
	}
	if r.Note != "" && s != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

// SweepTable is the sweep as rows: the parameter value, then per stream the fault-phase p99
// and error rate and the user impact (means over repeats).
func (c *Comparison) SweepTable() ([]string, [][]string) {
	sw := c.Sweep
	if sw == nil {
		return nil, nil
	}
	h := []string{sw.Param}
	type col struct {
		row  func() (MetricRow, bool)
		name string
	}
	var cols []col
	streams, _ := c.streamsAndPhases()
	for _, s := range streams {
		for _, m := range []string{MetricP99OK, "errors"} {
			s, m := s, m
			cols = append(cols, col{name: s + " fault " + m, row: func() (MetricRow, bool) { return c.find(c.Streams, s, "fault", m) }})
		}
		cols = append(cols, col{name: s + " user impact", row: func() (MetricRow, bool) { return c.find(c.UserImpact, s, "fault", "user impact") }})
	}
	for _, cl := range cols {
		h = append(h, cl.name)
	}
	var rows [][]string
	for gi := range sw.Values {
		_, v, _ := strings.Cut(c.Groups[gi].Label, "=")
		row := []string{strings.TrimSpace(v)}
		for _, cl := range cols {
			r, ok := cl.row()
			if !ok {
				row = append(row, "—")
				continue
			}
			row = append(row, Cell(r.Values[gi], r.Unit))
		}
		rows = append(rows, row)
	}
	return h, rows
}

func (c *Comparison) find(rows []MetricRow, stream, phase, metric string) (MetricRow, bool) {
	for _, r := range rows {
		if r.Stream == stream && r.Phase == phase && r.Metric == metric {
			return r, true
		}
	}
	return MetricRow{}, false
}

func mdTable(w io.Writer, header []string, rows [][]string) {
	mdRow(w, header)
	seps := make([]string, len(header))
	for i := range seps {
		seps[i] = "---"
	}
	mdRow(w, seps)
	for _, r := range rows {
		mdRow(w, r)
	}
}

func mdRow(w io.Writer, cells []string) {
	esc := make([]string, len(cells))
	for i, c := range cells {
		esc[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(esc, " | "))
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// Highlights lists the rows with a winner as sentences: user impact, then the fault phase,
// then mechanisms, then other phases — those only when the call rests on repeats, since a
// single run's baseline differences are mostly noise.
func (c *Comparison) Highlights() []string {
	var first, mid, last []string
	say := func(r MetricRow) string {
		var others []string
		for i, s := range r.Values {
			if i != r.Winner && s.N > 0 {
				others = append(others, c.Groups[i].Label+" "+Format(s.Mean, r.Unit))
			}
		}
		what := r.Metric
		if r.Stream != "" {
			what = r.Stream + " " + what
		}
		if r.Phase != "" && r.Metric != "user impact" {
			what += " (" + r.Phase + ")"
		}
		s := fmt.Sprintf("%s: %s best with %s, vs %s", what, c.Groups[r.Winner].Label, Format(r.Values[r.Winner].Mean, r.Unit), strings.Join(others, ", "))
		if r.Note != "" {
			s += " (" + r.Note + ")"
		}
		return s
	}
	for _, r := range c.UserImpact {
		if r.Call == CallBest {
			first = append(first, say(r))
		}
	}
	for _, r := range c.Streams {
		if r.Call != CallBest {
			continue
		}
		switch {
		case r.Phase == "fault":
			first = append(first, say(r))
		case r.Note == "":
			last = append(last, say(r))
		}
	}
	for _, r := range c.Mechanisms {
		if r.Call == CallBest {
			mid = append(mid, say(r))
		}
	}
	return append(append(first, mid...), last...)
}
