package charts

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/faultline/faultline/reports"
)

func fixture(t *testing.T) *reports.Results {
	t.Helper()
	b, err := os.ReadFile("../html/testdata/run/results.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reports.Results
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// wellFormed parses svg as XML and counts its drawing elements.
func wellFormed(t *testing.T, name, svg string) int {
	t.Helper()
	if !strings.HasPrefix(svg, "<svg") || !strings.HasSuffix(svg, "</svg>") {
		t.Fatalf("%s: not an inline <svg> element: %.80q … %.20q", name, svg, svg[max(0, len(svg)-20):])
	}
	d := xml.NewDecoder(strings.NewReader(svg))
	n := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: invalid XML: %v", name, err)
		}
		if se, ok := tok.(xml.StartElement); ok && (se.Name.Local == "path" || se.Name.Local == "rect" || se.Name.Local == "text") {
			n++
		}
	}
	return n
}

func TestChartsFromFixture(t *testing.T) {
	res := fixture(t)
	lat, err := LatencyOverTime(res, "create")
	if err != nil {
		t.Fatal(err)
	}
	thr, err := ErrorsAndThroughput(res)
	if err != nil {
		t.Fatal(err)
	}
	mech, err := MechanismsTimeline(res)
	if err != nil {
		t.Fatal(err)
	}
	smap, err := ServiceMap(res)
	if err != nil {
		t.Fatal(err)
	}
	dist, err := LatencyDistribution("dist", []Distribution{{Name: "baseline", LatenciesMs: []float64{1, 2, 3, 4, 50}}, {Name: "fault", Percentiles: []Percentile{{50, 400}, {99, 2000}}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, svg string
		want      []string
	}{
		{"latency", lat, []string{"latency link-&gt;link-db", "fault active", "p99", "p50", "max", "seconds since start", "SLO p(99)&lt;1s", "SLO threshold"}},
		{"throughput", thr, []string{"redirect ok/s", "create failed/s", "latency link-&gt;link-db"}},
		{"mechanisms", mech, []string{"redirect-&gt;link", "open", "half-open", "retries 49", "fallbacks 27", "opened 3×"}},
		{"service map", smap, []string{">link-db<", ">gateway<", NodeOrigin, NodeAffected, NodeUnaffected, "46 err", "fault phase"}},
		{"distribution", dist, []string{"99%", "baseline", "fault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := wellFormed(t, tt.name, tt.svg); n < 10 {
				t.Errorf("only %d drawing elements", n)
			}
			for _, w := range tt.want {
				if !strings.Contains(tt.svg, w) {
					t.Errorf("missing %q", w)
				}
			}
			if strings.Contains(tt.svg, "<?xml") {
				t.Error("inline SVG keeps the XML prolog")
			}
		})
	}
}

// The fault window must be drawn where the fault was: a shaded polygon with the fault's
// non-premultiplied colour and its label.
func TestFaultWindowShaded(t *testing.T) {
	res := fixture(t)
	with, err := LatencyOverTime(res, "redirect")
	if err != nil {
		t.Fatal(err)
	}
	res.Faults = nil
	without, err := LatencyOverTime(res, "redirect")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(with, "fill-opacity:0.1647") || !strings.Contains(with, "latency link-&gt;link-db") {
		t.Error("fault window not shaded and labelled")
	}
	if strings.Contains(without, "latency link-&gt;link-db") || strings.Contains(without, "fault active") {
		t.Error("a run without faults shows a fault window")
	}
}

func TestDeterministic(t *testing.T) {
	res := fixture(t)
	for name, f := range map[string]func() (string, error){
		"latency":    func() (string, error) { return LatencyOverTime(res, "redirect") },
		"mechanisms": func() (string, error) { return MechanismsTimeline(res) },
		"map":        func() (string, error) { return ServiceMap(res) },
		"throughput": func() (string, error) { return ErrorsAndThroughput(res) },
	} {
		a, err1 := f()
		b, err2 := f()
		if err1 != nil || err2 != nil || a != b {
			t.Errorf("%s: two renders differ (errors %v, %v)", name, err1, err2)
		}
	}
}

func TestEmptyInputs(t *testing.T) {
	res := &reports.Results{}
	for name, f := range map[string]func() (string, error){
		"latency":      func() (string, error) { return LatencyOverTime(res, "none") },
		"throughput":   func() (string, error) { return ErrorsAndThroughput(res) },
		"mechanisms":   func() (string, error) { return MechanismsTimeline(res) },
		"map":          func() (string, error) { return ServiceMap(res) },
		"distribution": func() (string, error) { return LatencyDistribution("x", nil) },
	} {
		svg, err := f()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		wellFormed(t, name, svg)
		if !strings.Contains(svg, "no ") {
			t.Errorf("%s: empty chart does not say there is no data", name)
		}
	}
}

func TestNines(t *testing.T) {
	tests := []struct{ q, want float64 }{{0, 0}, {90, 1}, {99, 2}, {99.9, 3}, {99.99, 4}, {100, 4}, {-5, 0}}
	for _, tt := range tests {
		if got := Nines(tt.q); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("Nines(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestCurveEndsAtMax(t *testing.T) {
	v := make([]float64, 1000)
	for i := range v {
		v[i] = float64(i + 1)
	}
	xs, ys := curve(Distribution{LatenciesMs: v})
	if ys[len(ys)-1] != 1000 || xs[len(xs)-1] != 3 {
		t.Errorf("curve ends at (%v, %v), want (3, 1000)", xs[len(xs)-1], ys[len(ys)-1])
	}
	for i := 1; i < len(ys); i++ {
		if ys[i] < ys[i-1] {
			t.Fatalf("quantile curve decreases at %d", i)
		}
	}
}

func TestMechanismsLastStateUnconfirmed(t *testing.T) {
	tests := []struct {
		name  string
		last  string
		faded bool
	}{{"closed again", "closed", false}, {"still open", "open", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &reports.Results{DurationS: 30, Mechanisms: &reports.Mechanisms{BreakerTransitions: []reports.BreakerTransition{
				{Edge: "a->b", From: "closed", To: "open", AtS: 5}, {Edge: "a->b", From: "open", To: tt.last, AtS: 9},
			}}}
			svg, err := MechanismsTimeline(res)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(svg, "no later transition recorded"); got != tt.faded {
				t.Errorf("unconfirmed legend shown = %v, want %v", got, tt.faded)
			}
		})
	}
}

func TestPartialLastBucketDropped(t *testing.T) {
	res := &reports.Results{DurationS: 2.01, Timeseries: []reports.TimeBucket{
		{Stream: "s", T: 0, Requests: 100}, {Stream: "s", T: 1, Requests: 100}, {Stream: "s", T: 2, Requests: 1},
	}}
	if n := len(bucketsOf(res, "s")); n != 2 {
		t.Errorf("%d buckets, want 2 (the 0.01 s sliver dropped)", n)
	}
	res.DurationS = 2.6
	if n := len(bucketsOf(res, "s")); n != 3 {
		t.Errorf("%d buckets, want 3", n)
	}
}

// A background fault is the environment, not an event: no shading, no origin on the map.
func TestBackgroundFaultIsNoWindowNorOrigin(t *testing.T) {
	res := &reports.Results{DurationS: 30, Faults: []reports.FaultEvent{
		{Fault: "latency", Target: "link->link-db", AppliedAt: 0, HealedAt: 30, Background: true},
		{Fault: "crash", Target: "redis", AppliedAt: 8, HealedAt: 18},
	}}
	ws := FaultWindows(res)
	if len(ws) != 1 || ws[0].Label != "crash redis" {
		t.Errorf("windows = %+v, want only the crash", ws)
	}
	origins, _ := blastSets(res)
	if origins["link->link-db"] || !origins["redis"] {
		t.Errorf("origins = %v, want redis and not the background edge", origins)
	}
}

// TestOffScaleSLOIsSaid: an SLO line far above the data is not drawn (it would flatten every
// line), so the legend must say it is off-scale instead of listing a line nobody can find;
// one on the scale is drawn and not called off-scale. A millisecond axis labels 1000 ms as
// 1000, never "1s".
func TestOffScaleSLOIsSaid(t *testing.T) {
	series := []Series{{Name: "p99", X: []float64{0, 1, 2, 3}, Y: []float64{2, 900, 1500, 3}}}
	svg, err := Lines(LineChart{Title: "latency — redirect", YLabel: "ms", LogY: true, Series: series,
		Refs: []Ref{{Y: 20000, From: 0, To: 3, Label: "SLO p(99)<20s"}, {Y: 1200, From: 0, To: 3, Label: "SLO p(99)<1200ms"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg, "p(99)&lt;20s off-scale (above)") {
		t.Errorf("the legend does not say the 20 s SLO is off the scale")
	}
	if strings.Contains(svg, "1200ms off-scale") {
		t.Errorf("an SLO on the scale is called off-scale")
	}
	if !strings.Contains(svg, ">1000<") || strings.Contains(svg, ">1s<") {
		t.Errorf("the millisecond axis must label 1000 as 1000, not 1s")
	}
	onScale, err := Lines(LineChart{Title: "t", YLabel: "ms", Series: series, Refs: []Ref{{Y: 1200, From: 0, To: 3, Label: "SLO p(99)<1200ms"}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(onScale, "off-scale") {
		t.Errorf("no SLO is off-scale here")
	}
}
