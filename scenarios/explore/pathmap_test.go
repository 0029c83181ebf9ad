package explore

import (
	"compress/gzip"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/faultline/faultline/reports/traces"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// recordedSpans are a real run's spans (reports/traces' fixture: redirect, create and stats
// streams against the real system, link->link-db latency in its middle phase).
func recordedSpans(t *testing.T) []traces.Span {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "reports", "traces", "testdata", "real-link-db-latency.spans.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	spans, err := traces.ReadSpans(zr)
	if err != nil {
		t.Fatal(err)
	}
	return spans
}

func TestLearnRecordedBaseline(t *testing.T) {
	pm := Learn(recordedSpans(t), DefaultBase().Requests())
	cases := []struct {
		stream, target, want string // want "" = not on the path
	}{
		{"redirect", "client->gateway", Sync},
		{"redirect", "gateway->redirect", Sync},
		{"redirect", "redirect->redis", Sync},
		{"redirect", "redirect->link", Sync},
		{"redirect", "link->link-db", Sync},
		{"redirect", "redirect->nats", Async},
		// the click event, applied later by analytics: the queue path
		{"redirect", "analytics->nats", Async},
		{"redirect", "analytics->analytics-db", Async},
		{"redirect", "analytics", Async},
		{"redirect", "link->billing", ""},
		{"redirect", "gateway->link", ""},
		{"create", "gateway->link", Sync},
		{"create", "link->billing", Sync},
		{"create", "billing", Sync},
		{"create", "link->link-db", Sync},
		{"create", "link->nats", Async},
		// link-created reaches analytics and billing's usage counter through NATS
		{"create", "analytics->analytics-db", Async},
		{"create", "billing->nats", Async},
		{"create", "redirect->redis", ""},
		{"stats", "gateway->analytics", Sync},
		{"stats", "analytics->analytics-db", Sync},
		{"stats", "analytics", Sync},
		{"stats", "nats", ""},
		{"stats", "link", ""},
	}
	for _, c := range cases {
		got, ok := pm.Streams[c.stream].Touches(c.target)
		if !ok {
			got = ""
		}
		if got != c.want {
			t.Errorf("%s on %s: got %q, want %q", c.stream, c.target, got, c.want)
		}
	}
	for _, n := range pm.StreamNames() {
		if pm.Streams[n].Traces == 0 {
			t.Errorf("stream %s: no trace learned", n)
		}
	}
	golden(t, "recorded.pathmap.json", pm.JSON())
}

func TestLearnIgnoresForeignTraces(t *testing.T) {
	pm := Learn(recordedSpans(t), []StreamRequest{{"other", "GET /nothing"}})
	if len(pm.Streams["other"].Edges) != 0 || pm.Streams["other"].Traces != 0 {
		t.Fatalf("a stream no trace names learned %v", pm.Streams["other"])
	}
	if got := pm.Empty(); len(got) != 1 || got[0] != "other" {
		t.Fatalf("Empty() = %v, want [other]", got)
	}
}

func TestReadPathMapRefusesUnknownTargets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(p, []byte(`{"streams":{"a":{"edges":{"x->y":"sync"}}}}`), 0o644)
	if _, err := ReadPathMap(p); err == nil {
		t.Fatal("an unknown edge was accepted")
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, got)
	}
}
