package tournament

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/reports/compare"
	"github.com/faultline/faultline/reports/html"
)

// RuleText states how the tables call a winner and how the overall ranking is ordered.
const RuleText = `A profile is best on a criterion only when its min–max range over the repeats does not overlap any other profile's range and it leads by at least the smallest difference worth a call (0.5 ms, 0.5/s, 0.1 s, 0.1 percentage point; with a single run somewhere, a twofold lead, flagged "single runs"); otherwise the row says "within noise". Latencies are of successful requests only. Runs with an invalid measurement or an error verdict count in nothing. Overall: criteria won outside noise, over every scenario; ties by the mean rank of the means (1 = best), which is shown but proves nothing on its own.`

// Markdown writes the tournament as Markdown: the overall ranking, then a table per scenario.
func (rk *Ranking) Markdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Tournament: %s\n\n%s\n\n## Overall\n\n", strings.Join(rk.Profiles, ", "), RuleText)
	fmt.Fprintf(bw, "| place | profile | criteria won | mean rank |\n| --- | --- | --- | --- |\n")
	for i, s := range rk.Overall {
		fmt.Fprintf(bw, "| %d | %s | %d | %s |\n", i+1, s.Profile, s.Wins, meanRank(s))
	}
	if len(rk.Overall) > 1 && rk.Overall[0].Wins == rk.Overall[1].Wins {
		fmt.Fprintf(bw, "\nNo overall winner outside noise: the first two won as many criteria.\n")
	}
	for _, t := range rk.Tables {
		fmt.Fprintf(bw, "\n## Scenario %s\n\n", t.Scenario)
		fmt.Fprintf(bw, "| criterion | %s | call |\n|%s --- |\n", strings.Join(t.headers(), " | "), strings.Repeat(" --- |", len(t.Profiles)+1))
		for _, r := range t.Rows {
			fmt.Fprintf(bw, "| %s | %s | %s |\n", r.Metric, strings.Join(t.cells(r), " | "), t.call(r))
		}
		for _, x := range t.Excluded {
			fmt.Fprintf(bw, "\n- not counted: %s", x)
		}
		if len(t.Excluded) > 0 {
			fmt.Fprintln(bw)
		}
	}
	return bw.Flush()
}

func meanRank(s Standing) string {
	if s.Rows == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f over %d rows", s.MeanRank, s.Rows)
}

func (t Table) headers() []string {
	out := make([]string, len(t.Profiles))
	for i, p := range t.Profiles {
		out[i] = fmt.Sprintf("%s (%d runs)", p, t.Runs[p])
	}
	return out
}

func (t Table) cells(r compare.MetricRow) []string {
	out := make([]string, len(r.Values))
	for i, v := range r.Values {
		c := compare.Cell(v, r.Unit)
		if i == r.Winner {
			c = "**" + c + "** ★"
		}
		out[i] = c
	}
	return out
}

func (t Table) call(r compare.MetricRow) string {
	s := r.Call
	if r.Call == compare.CallBest {
		s = "best: " + t.Profiles[r.Winner]
	}
	if s == "" {
		s = "no comparison"
	}
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

// HTML writes the tournament as one self-contained page: the overall ranking, a table per
// scenario and its p99-over-time charts with every run overlaid.
func (rk *Ranking) HTML(w io.Writer) error {
	type block struct {
		Name     string
		Headers  []string
		Rows     [][]string
		Excluded []string
		Charts   []html.Chart
	}
	v := struct {
		Title    string
		CSS      template.CSS
		Rule     string
		Overall  [][]string
		Blocks   []block
		Rendered string
	}{Title: "Tournament: " + strings.Join(rk.Profiles, ", "), CSS: html.CSS(), Rule: RuleText, Rendered: time.Now().UTC().Format(time.RFC3339)}
	for i, s := range rk.Overall {
		v.Overall = append(v.Overall, []string{fmt.Sprint(i + 1), s.Profile, fmt.Sprint(s.Wins), meanRank(s)})
	}
	for i, t := range rk.Tables {
		b := block{Name: t.Scenario, Headers: append(append([]string{"criterion"}, t.headers()...), "call"), Excluded: t.Excluded}
		for _, r := range t.Rows {
			b.Rows = append(b.Rows, append(append([]string{r.Metric}, t.cells(r)...), t.call(r)))
		}
		if t.Compared != nil {
			b.Charts = t.Compared.Overlays(fmt.Sprintf("t%d", i))
		}
		v.Blocks = append(v.Blocks, b)
	}
	return page.Execute(w, v)
}

var page = template.Must(template.New("t").Funcs(template.FuncMap{"bold": bold}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title><style>{{.CSS}}</style></head>
<body><main>
<h1>{{.Title}}</h1>
<p>{{.Rule}}</p>
<h2>Overall</h2>
<table><thead><tr><th>place</th><th>profile</th><th>criteria won</th><th>mean rank</th></tr></thead><tbody>
{{range .Overall}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table>
{{range .Blocks}}<h2>Scenario {{.Name}}</h2>
<table><thead><tr>{{range .Headers}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range .}}<td>{{bold .}}</td>{{end}}</tr>
{{end}}</tbody></table>
{{range .Excluded}}<p>Not counted: {{.}}</p>{{end}}
{{range .Charts}}<figure id="{{.ID}}"><figcaption>{{.Title}}: {{.Caption}}</figcaption>{{if .Err}}<p>chart unavailable: {{.Err}}</p>{{else}}{{.SVG}}{{end}}</figure>
{{end}}{{end}}
<p>Rendered {{.Rendered}}.</p>
</main></body></html>
`))

var boldRE = regexp.MustCompile(`^\*\*(.*)\*\* ★$`)

// bold turns a Markdown-marked winner cell into <strong>…</strong> ★, escaping the text.
func bold(s string) template.HTML {
	if m := boldRE.FindStringSubmatch(s); m != nil {
		return template.HTML("<strong>" + template.HTMLEscapeString(m[1]) + "</strong> ★")
	}
	return template.HTML(template.HTMLEscapeString(s))
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._=-]+`)

func safe(s string) string {
	if s = unsafeChars.ReplaceAllString(s, "_"); s == "" {
		return "run"
	}
	return s
}

func contains(ss []string, s string) bool { return slices.Contains(ss, s) }

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
