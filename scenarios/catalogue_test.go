package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
)

// The catalogue's own rules (issue 7): each scenario says what fails, what protects and what
// is expected, and stays short enough for CI.
const (
	minCatalogueDuration = 20 * time.Second
	maxCatalogueDuration = 45 * time.Second
	catalogueIndex       = "../docs/catalogue.md"
)

// descriptionParts are the labelled paragraphs a catalogue description is made of.
var descriptionParts = []string{"Failure mode", "Mechanism", "Expected"}

var partRE = regexp.MustCompile(`(Failure mode|Mechanism|Expected):`)

// splitDescription cuts "Failure mode: … Mechanism: … Expected: …" into its parts; a
// description without labels is all failure mode.
func splitDescription(d string) map[string]string {
	d = strings.Join(strings.Fields(d), " ")
	out := map[string]string{}
	locs := partRE.FindAllStringSubmatchIndex(d, -1)
	if len(locs) == 0 {
		out["Failure mode"] = d
		return out
	}
	for i, l := range locs {
		end := len(d)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out[d[l[2]:l[3]]] = strings.TrimSpace(d[l[1]:end])
	}
	return out
}

// TestCatalogueRules checks every catalogue scenario (smoke, the demo, is exempt from the
// description shape) against the rules.
func TestCatalogueRules(t *testing.T) {
	all, err := LoadDir(".")
	if err != nil {
		t.Fatalf("catalogue has invalid scenarios:\n%v", err)
	}
	if len(all) < 15 {
		t.Errorf("catalogue has %d scenarios, want at least 14 besides smoke", len(all))
	}
	covered := map[string]string{}
	for _, sc := range all {
		if d := sc.Duration.D(); d < minCatalogueDuration || d > maxCatalogueDuration {
			t.Errorf("%s: duration %s, want %s..%s", sc.File, d, minCatalogueDuration, maxCatalogueDuration)
		}
		for _, m := range sc.Controls {
			if _, ok := covered[m]; !ok {
				covered[m] = sc.Name
			}
		}
		if sc.Name == "smoke" {
			continue
		}
		parts := splitDescription(sc.Description)
		for _, p := range descriptionParts {
			if parts[p] == "" {
				t.Errorf("%s: description has no %q: paragraph", sc.File, p)
			}
		}
		if len(sc.SLOs) == 0 {
			t.Errorf("%s: no SLO: nothing could fail", sc.File)
		}
	}
	// Every mutant but aggressive and hedged (a tuning and an added protection, not a removed
	// one) must be some scenario's control, or the protection it removes is never shown to matter.
	for _, m := range Mutants() {
		if _, ok := covered[m]; !ok && m != "aggressive" && m != "hedged" && uncaughtMutants[m] == "" {
			t.Errorf("mutant %s is no scenario's control", m)
		}
	}
}

// uncaughtMutants remove a protection no scenario can yet observe the loss of, with why; the
// gaps are listed in docs/catalogue.md.
var uncaughtMutants = Uncaught

// blastControls are scenarios whose listed mutant widens the blast radius beyond what the
// scenario states (measured, see each file), so the trace-derived blast radius decides a kill
// of the matrix, not only the SLOs.
var blastControls = map[string]string{
	"billing-down":          "no-fallback", // creation fails: link and gateway affected
	"smoke":                 "none",        // creation waits for billing: link and gateway affected
	"redirect-link-timeout": "no-fallback", // redirects fail: redirect and gateway affected
}

// TestCatalogueBlastRadius: every scenario with a fault that is not background says how far it
// may spread (contained_to or unaffected), so the blast radius decides its verdict; and the
// scenarios of blastControls keep both the statement and the control it catches.
func TestCatalogueBlastRadius(t *testing.T) {
	all, err := LoadDir(".")
	if err != nil {
		t.Fatalf("catalogue has invalid scenarios:\n%v", err)
	}
	byName := map[string]*Scenario{}
	for _, sc := range all {
		byName[sc.Name] = sc
		if !hasDisturbingFault(sc) {
			continue
		}
		b := sc.Expect.BlastRadius
		if b == nil || (b.ContainedTo == nil && len(b.Unaffected) == 0) {
			t.Errorf("%s: a fault that is not background, but expect.blast_radius states neither contained_to nor unaffected", sc.File)
		}
	}
	for name, m := range blastControls {
		sc := byName[name]
		if sc == nil {
			t.Errorf("blastControls: no scenario %s", name)
			continue
		}
		if b := sc.Expect.BlastRadius; b == nil || b.ContainedTo == nil {
			t.Errorf("%s: its control %s is caught by the blast radius, but it states no contained_to", sc.File, m)
		}
		if !slices.Contains(sc.Controls, m) {
			t.Errorf("%s: does not list %s under controls", sc.File, m)
		}
	}
}

func hasDisturbingFault(sc *Scenario) bool {
	for _, f := range sc.Faults {
		if !f.Background {
			return true
		}
	}
	return false
}

// TestCatalogueIndex fails when docs/catalogue.md differs from what the scenario files say;
// `go test ./scenarios -run TestCatalogueIndex -update` rewrites it.
func TestCatalogueIndex(t *testing.T) {
	all, err := LoadDir(".")
	if err != nil {
		t.Fatalf("catalogue has invalid scenarios:\n%v", err)
	}
	got := renderIndex(all)
	if *update {
		if err := os.WriteFile(catalogueIndex, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(catalogueIndex)
	if err != nil {
		t.Fatalf("%v (run go test ./scenarios -run TestCatalogueIndex -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/catalogue.md is out of date: run go test ./scenarios -run TestCatalogueIndex -update")
	}
}

func TestSplitDescription(t *testing.T) {
	cases := []struct {
		name, in string
		want     map[string]string
	}{
		{"labelled", "Failure mode: a b.\n  Mechanism: c. Expected: d e.", map[string]string{"Failure mode": "a b.", "Mechanism": "c.", "Expected": "d e."}},
		{"plain", "Billing answers late.", map[string]string{"Failure mode": "Billing answers late."}},
		{"missing part", "Failure mode: x. Expected: y.", map[string]string{"Failure mode": "x.", "Expected": "y."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := splitDescription(c.in)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// renderIndex writes docs/catalogue.md from the parsed scenarios.
func renderIndex(all []*Scenario) []byte {
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	var b bytes.Buffer
	b.WriteString("<!-- Generated from scenarios/*.yaml by `go test ./scenarios -run TestCatalogueIndex -update`; do not edit. -->\n")
	b.WriteString("# Scenario catalogue\n\n")
	b.WriteString("Every scenario in `scenarios/`, what it breaks, which protection it exercises and what it expects. ")
	b.WriteString("Run one with `faultline run scenarios/NAME.yaml`; `make verdict-power` (`faultline mutate scenarios/`) runs ")
	b.WriteString("each and then each mutant profile it lists under *controls*, which must make it fail.\n\n")
	b.WriteString("| scenario | fault(s) | duration | load | controls |\n|---|---|---|---|---|\n")
	for _, sc := range all {
		var faults, loads []string
		for _, f := range sc.Faults {
			faults = append(faults, faultText(f))
		}
		for _, l := range sc.Load {
			rate := rateText(l.Rate)
			if l.Schedule() != "" {
				rate = l.Schedule()
			}
			loads = append(loads, fmt.Sprintf("%s %s", l.Name, rate))
		}
		controls := "—"
		if len(sc.Controls) > 0 {
			controls = strings.Join(sc.Controls, ", ")
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s | %s |\n", sc.Name, sc.Name, strings.Join(faults, "; "), sc.Duration, strings.Join(loads, ", "), controls)
	}
	b.WriteString("\n")
	for _, sc := range all {
		fmt.Fprintf(&b, "## %s\n\n", sc.Name)
		fmt.Fprintf(&b, "File: [`scenarios/%s`](../scenarios/%s) · profile `%s` · %s · setup %d links\n\n", filepath.Base(sc.File), filepath.Base(sc.File), sc.Profile, sc.Duration, sc.Setup.Links)
		parts := splitDescription(sc.Description)
		for _, p := range descriptionParts {
			if parts[p] != "" {
				fmt.Fprintf(&b, "- **%s:** %s\n", p, parts[p])
			}
		}
		b.WriteString("- **Faults:** ")
		var faults []string
		for _, f := range sc.Faults {
			faults = append(faults, faultText(f))
		}
		b.WriteString(strings.Join(faults, "; ") + "\n")
		b.WriteString("- **SLOs:**")
		for _, s := range sc.SLOs {
			fmt.Fprintf(&b, " %s in %s: `%s`;", s.Load, strings.Join(s.Phases, "/"), strings.Join(s.Raw(), "`, `"))
		}
		b.WriteString("\n")
		if e := expectText(sc.Expect); e != "" {
			fmt.Fprintf(&b, "- **Expectations:** %s\n", e)
		}
		if t := blastText(sc.Blast); t != "" {
			fmt.Fprintf(&b, "- **Blast-radius thresholds:** %s\n", t)
		}
		if len(sc.Controls) > 0 {
			fmt.Fprintf(&b, "- **Negative controls:** %s (each must turn the verdict to fail)\n", strings.Join(sc.Controls, ", "))
		}
		if len(sc.CodeControls) > 0 {
			fmt.Fprintf(&b, "- **Code mutants:** %s (each must turn the verdict to fail; [docs/mutants.md](mutants.md))\n", strings.Join(sc.CodeControls, ", "))
		}
		b.WriteString("\n")
	}
	if len(uncaughtMutants) > 0 {
		b.WriteString("## Known gaps\n\nMutants no scenario can catch yet:\n\n")
		for _, m := range sortedKeys(uncaughtMutants) {
			fmt.Fprintf(&b, "- **%s** %s\n", m, uncaughtMutants[m])
		}
	}
	return b.Bytes()
}

// blastText spells the scenario's overrides of the blast-radius thresholds.
func blastText(th reports.BlastThresholds) string {
	var out []string
	for _, kv := range []struct {
		k string
		v float64
	}{{"error_rate_delta", th.ErrorRateDelta}, {"latency_factor", th.LatencyFactor}, {"latency_min_ms", th.LatencyMinMs},
		{"abs_error_rate", th.AbsErrorRate}, {"abs_latency_ms", th.AbsLatencyMs}} {
		if kv.v > 0 {
			out = append(out, fmt.Sprintf("%s %g", kv.k, kv.v))
		}
	}
	return strings.Join(out, ", ")
}

func faultText(f Fault) string {
	var params []string
	for _, k := range sortedKeys(f.Params) {
		params = append(params, k+" "+f.Params[k])
	}
	s := fmt.Sprintf("%s on %s", f.Fault, f.Target())
	if len(params) > 0 {
		s = fmt.Sprintf("%s (%s) on %s", f.Fault, strings.Join(params, ", "), f.Target())
	}
	if f.Background {
		s = "background: " + s
	}
	if f.For > 0 {
		return fmt.Sprintf("%s at %s for %s", s, f.At, f.For)
	}
	return fmt.Sprintf("%s at %s", s, f.At)
}

func expectText(e verdict.Expect) string {
	var out []string
	if b := e.BlastRadius; b != nil {
		switch {
		case b.ContainedTo == nil:
		case len(b.ContainedTo) == 0:
			out = append(out, "contained to the origin")
		default:
			out = append(out, "contained to the origin and "+strings.Join(b.ContainedTo, ", "))
		}
		if len(b.Unaffected) > 0 {
			out = append(out, "unaffected: "+strings.Join(b.Unaffected, ", "))
		}
		if len(b.AllowUnproven) > 0 {
			out = append(out, "may stay unproven: "+strings.Join(b.AllowUnproven, ", "))
		}
		for _, k := range sortedKeys(b.UserImpact) {
			out = append(out, fmt.Sprintf("user impact on %s %s", k, b.UserImpact[k].Raw))
		}
		if b.MaxAffectedServices != nil {
			out = append(out, fmt.Sprintf("at most %d services affected", *b.MaxAffectedServices))
		}
	}
	if m := e.Mechanisms; m != nil {
		for _, br := range m.Breakers {
			s := "breaker on " + br.Edge + " opens"
			if br.OpensWithin > 0 {
				s += " within " + br.OpensWithin.String()
			}
			if br.ClosesWithin > 0 {
				s += ", closes within " + br.ClosesWithin.String() + " of the heal"
			}
			out = append(out, s)
		}
		for _, k := range sortedKeys(m.MaxRetriesPerRequest) {
			out = append(out, fmt.Sprintf("at most %g retries per call on %s", m.MaxRetriesPerRequest[k], k))
		}
	}
	if d := e.Data; d != nil {
		for _, kv := range []struct {
			k string
			v *int
		}{{"lost links", d.LostLinks}, {"duplicate clicks", d.DuplicateClicks}, {"missing clicks", d.MissingClicks},
			{"lost link events", d.LostLinkEvents}, {"duplicate link events", d.DuplicateLinkEvents}} {
			if kv.v != nil {
				out = append(out, fmt.Sprintf("%s ≤ %d", kv.k, *kv.v))
			}
		}
	}
	return strings.Join(out, "; ")
}

// TestSmokeShortFollowsSmoke keeps testdata/smoke-short.good.yaml, the tests' shorter smoke,
// what its name says: smoke.yaml with shorter phases. Everything else — load, setup, the
// fault, SLOs, expectations, controls — must be smoke.yaml's, so a change to the smoke
// scenario cannot leave the tests checking an older one.
func TestSmokeShortFollowsSmoke(t *testing.T) {
	smoke, err := ParseFile("smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	short, err := ParseFile(filepath.Join("testdata", "smoke-short.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if short.Duration.D() >= smoke.Duration.D() {
		t.Errorf("smoke-short lasts %s, smoke %s: not shorter", short.Duration.D(), smoke.Duration.D())
	}
	if len(short.Faults) != len(smoke.Faults) {
		t.Fatalf("smoke-short has %d faults, smoke %d", len(short.Faults), len(smoke.Faults))
	}
	// what may differ: the name, the file, the length and the fault's window
	short.Name, short.File, short.Duration = smoke.Name, smoke.File, smoke.Duration
	for i := range short.Faults {
		short.Faults[i].At, short.Faults[i].For = smoke.Faults[i].At, smoke.Faults[i].For
	}
	if s, w := jsonOf(t, short), jsonOf(t, smoke); s != w {
		t.Errorf("smoke-short differs from smoke.yaml beyond its name, length and fault window:\n got %s\nwant %s", s, w)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
