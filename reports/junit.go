package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// JUnit XML, the shape CI systems read (the Ant/Jenkins JUnit schema): one testsuite per
// run, one testcase per SLO, per expectation and per data-safety check, plus the verdict.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the run as JUnit XML. The verdict case fails when the run was not as
// expected. In a negative control (expected verdict fail) the individual checks are expected
// to fail, so a failing check is written as skipped with the reason instead of failing CI;
// in every other run it is a failure.
func WriteJUnit(w io.Writer, r *Results) error {
	negative := r.ExpectedVerdict == VerdictFail
	suite := junitSuite{
		Name:      r.Scenario,
		Time:      seconds(r.DurationS),
		Timestamp: r.StartedAt.UTC().Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{
			{"profile", r.Profile}, {"seed", strconv.FormatInt(r.Seed, 10)},
			{"verdict", r.Verdict}, {"expected_verdict", r.ExpectedVerdict},
			{"as_expected", strconv.FormatBool(r.AsExpected)}, {"valid", strconv.FormatBool(r.Valid)},
		},
	}
	cls := "faultline." + r.Scenario
	// A case's time is how long it measured: an SLO its phase, the verdict setup and load,
	// every other check the whole run (CI tools sort and flag by it; "0" everywhere hid it).
	add := func(c junitCase) {
		if c.Time == "" {
			c.Time = seconds(r.DurationS)
		}
		suite.Cases = append(suite.Cases, c)
	}
	check := func(class, name string, pass bool, msg, detail string, secs ...float64) {
		c := junitCase{Name: name, Classname: cls + "." + class, SystemOut: detail}
		if len(secs) == 1 {
			c.Time = seconds(secs[0])
		}
		switch {
		case pass:
		case negative:
			c.Skipped = &junitMessage{Message: "negative control, failed as expected: " + msg}
		default:
			c.Failure = &junitMessage{Message: msg, Type: class, Text: detail}
		}
		add(c)
	}

	verdict := junitCase{Name: fmt.Sprintf("verdict %s (expected %s)", r.Verdict, r.ExpectedVerdict), Classname: cls + ".verdict",
		SystemOut: strings.Join(r.Reasons, "\n")}
	switch {
	case r.Verdict == VerdictError || r.Verdict == VerdictAborted || r.Verdict == VerdictHalted:
		verdict.Error = &junitMessage{Message: "run " + r.Verdict + ": " + strings.Join(r.Reasons, "; "), Type: r.Verdict}
	case !r.AsExpected:
		verdict.Failure = &junitMessage{Message: "not as expected: " + strings.Join(r.Reasons, "; "), Type: "verdict"}
	}
	verdict.Time = seconds(r.SetupS + r.DurationS)
	add(verdict)
	if !r.Valid {
		c := junitCase{Name: "measurement valid", Classname: cls + ".validity"}
		c.Error = &junitMessage{Message: "measurement cannot be trusted: " + strings.Join(r.InvalidReasons, "; "), Type: "invalid"}
		add(c)
	}
	for _, s := range r.SLOs {
		name := fmt.Sprintf("%s %s %s", s.Stream, s.Phase, s.Threshold)
		obs := fmt.Sprintf("observed %s", formatValue(s.Value, s.Unit))
		if s.NoData {
			obs = "no requests in this phase: nothing was measured"
		}
		phaseS := r.DurationS
		if l, ok := Length(r.Phases, s.Phase); ok && s.Phase != PhaseAll {
			phaseS = l
		}
		check("slo", name, s.Pass && !s.NoData, obs, "", phaseS)
	}
	notApplicable := func(class, name, msg string) {
		add(junitCase{Name: name, Classname: cls + "." + class, Skipped: &junitMessage{Message: msg}})
	}
	for _, e := range r.Expectations {
		if e.NotApplicable {
			notApplicable("expect", e.What, e.Observed)
			continue
		}
		check("expect", e.What, e.Pass, fmt.Sprintf("expected %s, observed %s", e.Expected, e.Observed), "")
	}
	for _, c := range dataChecks(r.DataSafety) {
		if c.na {
			notApplicable("data", c.name, c.msg)
			continue
		}
		check("data", c.name, c.pass, c.msg, "")
	}
	for _, c := range conformanceChecks(r.Conformance) {
		if c.Status == ConformanceNoData || c.Status == ConformanceSkipped {
			add(junitCase{Name: c.TargetText() + " " + c.Policy, Classname: cls + ".conformance",
				Skipped: &junitMessage{Message: c.Status + ": " + c.Reason}})
			continue
		}
		check("conformance", c.TargetText()+" "+c.Policy, c.Status == ConformancePass, c.FailReason(), c.Observed)
	}
	for _, c := range suite.Cases {
		suite.Tests++
		switch {
		case c.Failure != nil:
			suite.Failures++
		case c.Error != nil:
			suite.Errors++
		case c.Skipped != nil:
			suite.Skipped++
		}
	}
	doc := junitSuites{Name: "faultline", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("reports: junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("reports: junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

type dataCheck struct {
	name, msg string
	pass      bool
	na        bool // nothing to check: neither held nor broken
}

// dataChecks are the data-safety invariants, each a check on its own; a run that never
// checked data safety gets one failing check rather than silence. A check with nothing to
// check (no acknowledged link, no redirect received) is marked na, not passed.
// unverifiedText names the links that could not be read back: not lost, not proven safe.
func unverifiedText(d *DataSafety) string {
	if d.UnverifiedLinks == 0 {
		return ""
	}
	return fmt.Sprintf("; %d more could not be read back (unverified)%s", d.UnverifiedLinks, samplesText(d.UnverifiedLinkSamples))
}

func dataChecks(d *DataSafety) []dataCheck {
	if d == nil {
		return []dataCheck{{name: "data safety checked", msg: "data safety was not checked"}}
	}
	noLinks := d.LinksAcked == 0
	out := []dataCheck{
		{"no lost links", fmt.Sprintf("%d of %d acknowledged links do not resolve to the URL they were created with%s%s", d.LostLinks, d.LinksAcked, samplesText(d.LostLinkSamples), unverifiedText(d)), d.LostLinks == 0 && d.UnverifiedLinks == 0, noLinks},
		{"no missing clicks", fmt.Sprintf("%d of %d redirects the client received were not counted%s%s", d.MissingClicks, d.ClicksAcked, samplesText(d.ClickSamples), droppedText(d)), d.MissingClicks == 0, d.ClicksAcked == 0},
		{"no duplicate clicks", fmt.Sprintf("%d clicks counted beyond the redirects the client received (%d outcomes unknown)", d.DuplicateClicks, d.ClicksUnknown), d.DuplicateClicks == 0, d.ClicksAcked == 0 && d.ClicksCounted == 0},
		{"no lost link events", fmt.Sprintf("%d of %d acknowledged links have no link event in analytics%s", d.LostLinkEvents, d.LinksAcked, samplesText(d.LostLinkEventSamples)), d.LostLinkEvents == 0, noLinks},
		{"no duplicate link events", fmt.Sprintf("%d link events applied beyond one per acknowledged link", d.DuplicateLinkEvents), d.DuplicateLinkEvents == 0, noLinks},
		{"analytics settled", settledText(d.Settled), d.Settled, false},
	}
	for i := range out {
		if out[i].na {
			out[i].msg, out[i].pass = "nothing to check: "+out[i].msg, true
		}
	}
	if d.Error != "" {
		out = append(out, dataCheck{"data safety check ran", d.Error, false, false})
	}
	return out
}

// droppedText is redirect's own account of clicks it never delivered, for a report on
// missing clicks: the diagnostic, not the reference.
func droppedText(d *DataSafety) string {
	if d.MissingClicks == 0 {
		return ""
	}
	if d.LedgerError != "" {
		return "; redirect's ledger unreadable"
	}
	var parts []string
	for _, k := range sortedMapKeys(d.DroppedClicks) {
		parts = append(parts, fmt.Sprintf("%s %d", k, d.DroppedClicks[k]))
	}
	return "; redirect reports dropped: " + strings.Join(parts, ", ")
}

// samplesText names a few examples: " (e.g. a, b, c)".
func samplesText(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return " (e.g. " + strings.Join(s[:min(len(s), 3)], ", ") + ")"
}

func settledText(ok bool) string {
	if ok {
		return "analytics caught up before the deadline"
	}
	return "analytics did not catch up before the deadline"
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }

// formatValue prints a measured value with its unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case UnitMs:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	case UnitRatio:
		return strconv.FormatFloat(v*100, 'f', 3, 64) + "%"
	case UnitPerS:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
