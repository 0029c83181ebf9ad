package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/load"
)

// TestJudgeRateShort: a run whose generator sent one phase of one stream short of its asked
// rate is judged invalid by the runner, naming stream, phase, asked and achieved; the same
// run sent on time is valid.
func TestJudgeRateShort(t *testing.T) {
	sc, err := scenarios.Parse("short.yaml", []byte(`name: short
profile: default
duration: 4s
load:
  - {name: create, request: "POST /api/links", stages: [{rate: 50/s, for: 2s}, {rate: 300/s, for: 2s}]}
slos:
  - {load: create, phases: [baseline, fault], thresholds: ["errors<1%"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		lag  func(at time.Duration) time.Duration // of the request scheduled at at
		want string                               // "" = valid
	}{
		{"on time", func(time.Duration) time.Duration { return 200 * time.Microsecond }, ""},
		// From 3 s on the sender falls behind: the surge's last request goes out 200 ms late.
		{"surge sent late", func(at time.Duration) time.Duration { return max(0, at-3*time.Second) / 5 }, "stream create, phase fault: achieved"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Unix(1000, 0)
			r := &run{sc: sc, profile: "default", start: start, streams: load.StreamsFrom(sc, nil)}
			for _, st := range r.streams {
				for n := 0; ; n++ {
					at := scheduledAt(st, n)
					if at >= sc.Duration.D() {
						break
					}
					res := load.Result{Stream: st.Name, Seq: uint64(n), Scheduled: start.Add(at), Sent: start.Add(at + c.lag(at)), Code: 201}
					r.results = append(r.results, res)
					r.samples = append(r.samples, res.Sample(start))
				}
			}
			res := &reports.Results{Valid: true, ExpectedVerdict: reports.VerdictPass, DurationS: 4}
			r.judge(res, nil)
			why := strings.Join(res.InvalidReasons, "\n")
			// Without spans some expectations fail here; the point is the measurement's validity.
			if c.want == "" && !res.Valid || c.want != "" && (res.Valid || !strings.Contains(why, c.want) || res.Verdict == reports.VerdictPass) {
				t.Fatalf("valid %v, verdict %s, invalid reasons %q; want %q", res.Valid, res.Verdict, why, c.want)
			}
			if c.want != "" && !strings.Contains(why, "of 300.0/s asked") {
				t.Errorf("reason %q does not say what was asked", why)
			}
		})
	}
}

// scheduledAt is when request n of a stream is due: the first time its asked count reaches n.
func scheduledAt(st load.Stream, n int) time.Duration {
	lo, hi := time.Duration(0), time.Hour
	for hi-lo > time.Microsecond {
		mid := (lo + hi) / 2
		if st.Asked(0, mid) >= float64(n) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}
