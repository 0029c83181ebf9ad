package explore

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/faultline/faultline/reports/html"
)

// Report is everything one `faultline explore` found: one exploration per profile and, with
// several, each profile diffed against the first.
type Report struct {
	Explorations []*Exploration `json:"explorations"`
	Diffs        []Diff         `json:"diffs,omitempty"`
}

// NewReport collapses each exploration's outcomes and diffs every profile with the first.
func NewReport(exs []*Exploration) *Report {
	r := &Report{Explorations: exs}
	for _, ex := range exs {
		Collapse(ex.Outcomes)
	}
	for _, ex := range exs[min(1, len(exs)):] {
		r.Diffs = append(r.Diffs, Compare(exs[0], ex))
	}
	return r
}

// WeakSpotCount counts the weak spots of every exploration, and the ones a profile diff
// shows.
func (r *Report) WeakSpotCount() int {
	n := 0
	for _, ex := range r.Explorations {
		n += len(WeakSpots(ex.Outcomes))
	}
	return n
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// Matrix is the faults × streams table of one exploration: a row per experiment, a cell per
// stream ("held", "slowed", …; "·" when the fault is off the stream's path).
func (ex *Exploration) Matrix() (head []string, rows [][]string) {
	head = append([]string{"experiment"}, ex.Streams...)
	storms := slices.ContainsFunc(ex.Outcomes, func(o Outcome) bool { return len(o.Storms) > 0 })
	if storms {
		head = append(head, "retry storm")
	}
	for _, o := range ex.Outcomes {
		row := []string{o.ID}
		for _, s := range ex.Streams {
			row = append(row, cellText(o, s))
		}
		if storms {
			var edges []string
			for _, st := range o.Storms {
				e := st.Edge
				if st.CoveredBy != "" {
					e += "*"
				}
				edges = append(edges, e)
			}
			slices.Sort(edges)
			row = append(row, strings.Join(edges, ", "))
		}
		rows = append(rows, row)
	}
	return head, rows
}

// cellText is a matrix cell: the stream's class, "·" when it held off the fault's path, and a
// "*" when a pair's damage there is covered (CoverNote).
func cellText(o Outcome, stream string) string {
	s := o.Streams[stream]
	switch {
	case s.Class == Held && !slices.Contains(o.OnPath, stream):
		return "·"
	case s.CoveredBy != "":
		return s.Class + "*"
	}
	return s.Class
}

// CoverNote explains the matrix's "*".
const CoverNote = "A cell with a * is as bad under one of the pair's faults alone: known from that single, no finding of the pair."

// Headline is "explored N of M possible experiments, pruned K (…)".
func (ex *Exploration) Headline() string {
	var rules []string
	for _, p := range ex.Pruned {
		rules = append(rules, fmt.Sprintf("%d %s", p.Count, p.Rule))
	}
	s := fmt.Sprintf("explored %d of %d possible experiments, pruned %d (%s)", ex.Explored, ex.Possible, ex.PrunedTotal(), strings.Join(rules, ", "))
	if n := ex.Planned - ex.Explored; n > 0 {
		s += fmt.Sprintf("; %d planned not run", n)
		if ex.Interrupted {
			s += " (interrupted)"
		}
	}
	return s
}

// Markdown writes the report as Markdown.
func (r *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# faultline explore\n\n")
	for _, ex := range r.Explorations {
		writeExplorationMD(&b, ex)
	}
	for _, d := range r.Diffs {
		fmt.Fprintf(&b, "## Profiles: %s vs %s\n\n", d.A, d.B)
		fmt.Fprintf(&b, "- weak only under **%s**: %s\n", d.B, listOr(d.OnlyB))
		fmt.Fprintf(&b, "- weak only under **%s**: %s\n", d.A, listOr(d.OnlyA))
		fmt.Fprintf(&b, "- weak under both: %s\n", listOr(d.Both))
		if len(d.Uncompared) > 0 {
			fmt.Fprintf(&b, "- not comparable (not run or unproven under one): %s\n", listOr(d.Uncompared))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func listOr(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return "`" + strings.Join(xs, "`, `") + "`"
}

func writeExplorationMD(b *strings.Builder, ex *Exploration) {
	fmt.Fprintf(b, "## Profile %s — load %s, seed %d\n\n", ex.Profile, ex.Scenario, ex.Seed)
	fmt.Fprintf(b, "%s. %.0f s, %.1f experiments per minute, %d systems started. Paths from %s.\n\n",
		capital(ex.Headline()), ex.DurationS, ex.PerMinute(), ex.Systems, ex.MapSource)
	for _, n := range ex.Notes {
		fmt.Fprintf(b, "> %s\n\n", n)
	}
	weak := WeakSpots(ex.Outcomes)
	fmt.Fprintf(b, "### Weak spots (%d), by user impact\n\n", len(weak))
	if len(weak) == 0 {
		b.WriteString("None: every explored fault held its streams' SLOs and lost no data.\n\n")
	}
	for i, o := range weak {
		lost, perS := o.Impact()
		fmt.Fprintf(b, "%d. **%s** — %s", i+1, o.ID, impactText(lost, perS))
		if f := ex.Scenarios[o.ID]; f != "" {
			fmt.Fprintf(b, " — scenario `%s`", f)
		}
		b.WriteString("\n")
		for _, f := range o.Faults {
			fmt.Fprintf(b, "   - fault: %s\n", faultText(f))
		}
		for _, n := range sortedStreamNames(o) {
			s := o.Streams[n]
			if s.Class == Held {
				continue
			}
			fmt.Fprintf(b, "   - %s **%s** (user impact %.1f%%)", n, s.Class, s.Impact*100)
			if len(s.Failed) > 0 {
				fmt.Fprintf(b, ": %s", strings.Join(s.Failed, "; "))
			}
			if s.Why != "" && s.Class != Slowed && s.Class != Broken {
				fmt.Fprintf(b, " — %s", s.Why)
			}
			if s.CoveredBy != "" {
				fmt.Fprintf(b, " — known: as bad under %s alone", s.CoveredBy)
			}
			b.WriteString("\n")
		}
		for _, st := range o.Storms {
			fmt.Fprintf(b, "   - retry storm (traces): %s", st)
			if st.CoveredBy != "" {
				fmt.Fprintf(b, " — known: under %s alone too", st.CoveredBy)
			}
			b.WriteString("\n")
		}
		if len(o.Affected) > 0 {
			fmt.Fprintf(b, "   - blast radius (traces): %s\n", strings.Join(o.Affected, ", "))
		}
		if same := sameAs(ex.Outcomes, o.ID); len(same) > 0 {
			fmt.Fprintf(b, "   - same outcome: %s\n", strings.Join(same, ", "))
		}
		fmt.Fprintf(b, "   - run: `%s`\n", o.Dir)
	}
	b.WriteString("\n### Matrix\n\n")
	head, rows := ex.Matrix()
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|" + strings.Repeat(" --- |", len(head)) + "\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	if ex.anyCovered() {
		b.WriteString("\n" + CoverNote + "\n")
	}
	b.WriteString("\n### Pruned\n\n")
	for _, p := range ex.Pruned {
		fmt.Fprintf(b, "- %s: %d — %s\n", p.Rule, p.Count, p.Why)
	}
	b.WriteString("\n")
}

func impactText(lost int, perS float64) string {
	s := fmt.Sprintf("%.1f requests/s failed or too slow", perS)
	if lost > 0 {
		s = fmt.Sprintf("%d data items lost; ", lost) + s
	}
	return s
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func sortedStreamNames(o Outcome) []string { return slices.Sorted(maps.Keys(o.Streams)) }

// anyCovered says whether some outcome has covered damage (the matrix then needs CoverNote).
func (ex *Exploration) anyCovered() bool {
	for _, o := range ex.Outcomes {
		for _, s := range o.Streams {
			if s.CoveredBy != "" {
				return true
			}
		}
		for _, st := range o.Storms {
			if st.CoveredBy != "" {
				return true
			}
		}
	}
	return false
}

// sameAs lists the experiments collapsed into id.
func sameAs(outs []Outcome, id string) []string {
	var out []string
	for _, o := range outs {
		if o.SameAs == id {
			out = append(out, o.ID)
		}
	}
	return out
}

//go:embed explore.html.tmpl
var pageTmpl string

var page = template.Must(template.New("explore").Funcs(html.Funcs).Funcs(template.FuncMap{
	"weak":     WeakSpots,
	"sameAs":   sameAs,
	"streams":  sortedStreamNames,
	"pct":      func(v float64) string { return fmt.Sprintf("%.1f%%", v*100) },
	"impact":   func(o Outcome) string { l, p := o.Impact(); return impactText(l, p) },
	"join":     strings.Join,
	"cellKind": cellKind,
	"cell":     cellText,
	"coverNote": func(ex *Exploration) string {
		if ex.anyCovered() {
			return CoverNote
		}
		return ""
	},
	"fault": faultText,
}).Parse(pageTmpl))

func cellKind(c string) string {
	switch c {
	case Held:
		return "pass"
	case Slowed, Unproven:
		return "warn"
	case Broken, DataLost:
		return "bad"
	}
	return ""
}

// HTML writes the report as one self-contained page, styled like the run report.
func (r *Report) HTML(w io.Writer) error {
	return page.Execute(w, struct {
		R   *Report
		CSS template.CSS
	}{r, html.CSS()})
}

// faultText is "TYPE on TARGET k=v (why)", the empty parts left out.
func faultText(f Fault) string {
	s := f.Type + " on " + f.Target
	if p := f.ParamText(); p != "" {
		s += " " + p
	}
	if f.Why != "" {
		s += " (" + f.Why + ")"
	}
	return s
}
