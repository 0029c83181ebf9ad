package load

import (
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
)

func TestStreamsFromAndSample(t *testing.T) {
	sc, err := scenarios.Parse("s.yaml", []byte(`name: s
duration: 30s
setup: {links: 5}
load:
  - {name: redirect, request: "GET /r/{code}", rate: 100/s, codes: 3}
  - {name: warm, request: "GET /r/{code}", ramp: {from: 0, to: 50/s, over: 10s}}
  - {name: create, request: POST /api/links, rate: 2}
slos: [{load: redirect, thresholds: ["errors<1%"]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{"a", "b", "c", "d", "e"}
	got := StreamsFrom(sc, codes)
	if len(got) != 3 {
		t.Fatalf("got %d streams", len(got))
	}
	if r := got[0]; r.Method != "GET" || r.Path != "/r/{code}" || r.Rate != 100 || len(r.Codes) != 3 || r.Ramp != nil {
		t.Errorf("redirect: %+v", r)
	}
	if w := got[1]; w.Ramp == nil || w.Ramp.To != 50 || w.Ramp.Over != 10*time.Second || len(w.Codes) != 5 {
		t.Errorf("ramp stream: %+v", w)
	}
	if c := got[2]; c.Body != scenarios.DefaultBody || c.Codes != nil {
		t.Errorf("create: %+v", c)
	}
	for _, st := range got {
		if err := st.validate(); err != nil {
			t.Error(err)
		}
	}

	start := time.Unix(100, 0)
	r := Result{Stream: "redirect", Scheduled: start.Add(1500 * time.Millisecond), Sent: start.Add(1502 * time.Millisecond),
		Latency: 3 * time.Millisecond, Code: 503, Err: "503 Service Unavailable", Phase: "fault"}
	s := r.Sample(start)
	if s.At != 1500*time.Millisecond || s.Lag != 2*time.Millisecond || s.Latency != r.Latency || s.Code != 503 || !s.Failed() || s.Phase != "fault" {
		t.Errorf("sample: %+v", s)
	}
}
