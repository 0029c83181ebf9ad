// Command gen writes the report fixtures testdata/run/{results.json,samples.csv}: a simulated
// 40 s run of link-db-latency (400 ms on link->link-db from 10 s to 25 s) whose figures are
// computed from the simulated samples, so the summary, the timeseries and the CSV agree.
//
//	go run ./reports/html/testdata/gen reports/html/testdata/run
package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/faultline/faultline/internal/percentile"
	"github.com/faultline/faultline/reports"
)

type sample struct {
	stream, phase string
	at, lag, lat  float64
	code          int
	err           string
}

const (
	dur        = 40.0
	faultStart = 10.0
	faultEnd   = 25.0
	openAt     = 12.4
)

func phaseOf(t float64) string {
	switch {
	case t < faultStart:
		return reports.PhaseBaseline
	case t < faultEnd:
		return reports.PhaseFault
	}
	return reports.PhaseRecovery
}

func lognorm(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

func main() {
	out := os.Args[1]
	r := rand.New(rand.NewPCG(42, 7))
	streams := []struct {
		name, req string
		rate      float64
	}{{"redirect", "GET /r/{code}", 50}, {"create", "POST /api/links", 10}, {"stats", "GET /api/links/{code}/stats", 5}}
	var ss []sample
	for _, st := range streams {
		n := int(dur * st.rate)
		for i := range n {
			t := float64(i) / st.rate
			s := sample{stream: st.name, phase: phaseOf(t), at: t, lag: math.Abs(r.NormFloat64()) * 0.3, code: 200}
			inFault := t >= faultStart && t < faultEnd
			switch st.name {
			case "redirect":
				s.code = 302
				s.lat = lognorm(r, 1.8, 0.35)
				if r.Float64() < 0.08 { // cache miss goes to link
					s.lat += lognorm(r, 3, 0.4)
					if inFault && t < openAt {
						s.lat = 200 + lognorm(r, 6, 0.5) // per-attempt timeout, then stale cache
					} else if inFault {
						s.lat = lognorm(r, 2.4, 0.3) // breaker open: stale cache at once
					}
					if inFault && t < openAt && r.Float64() < 0.25 {
						s.code, s.err = 503, "503 Service Unavailable"
					}
				}
			case "create":
				s.code = 201
				s.lat = lognorm(r, 6, 0.3)
				if inFault {
					s.lat = 400 + lognorm(r, 25, 0.8)
					if r.Float64() < 0.3 {
						s.lat = 2000 + r.Float64()*5
						s.code, s.err = 504, "504 Gateway Timeout"
					}
				}
				if t >= faultEnd && t < faultEnd+1.5 {
					s.lat = lognorm(r, 30, 0.5) // pool refilling after the heal
				}
			case "stats":
				s.lat = lognorm(r, 2.6, 0.3)
			}
			ss = append(ss, s)
		}
	}
	res := build(ss, streams)
	writeJSON(filepath.Join(out, "results.json"), res)
	writeCSV(filepath.Join(out, "samples.csv"), ss)
}

func pct(v []float64, q float64) float64 { return round(percentile.Quantile(v, q)) }

func round(x float64) float64 { return math.Round(x*100) / 100 }

func figure(phase string, ss []sample, seconds float64) reports.PhaseFigure {
	f := reports.PhaseFigure{Phase: phase, StatusCodes: map[string]int{}}
	var lat, lag []float64
	sum := 0.0
	for _, s := range ss {
		f.Requests++
		lat = append(lat, s.lat)
		lag = append(lag, s.lag)
		sum += s.lat
		f.StatusCodes[strconv.Itoa(s.code)]++
		if s.err != "" {
			f.Errors++
			if len(f.ErrorSamples) < 3 {
				f.ErrorSamples = append(f.ErrorSamples, fmt.Sprintf("t=%.2fs %s", s.at, s.err))
			}
		}
	}
	sort.Float64s(lat)
	sort.Float64s(lag)
	if f.Requests > 0 {
		f.ErrorRate = round(float64(f.Errors)/float64(f.Requests)*1e4) / 1e4
		f.MeanMs = round(sum / float64(f.Requests))
	}
	f.AchievedRate = round(float64(f.Requests) / seconds)
	f.P50Ms, f.P90Ms, f.P95Ms, f.P99Ms = pct(lat, .5), pct(lat, .9), pct(lat, .95), pct(lat, .99)
	f.MaxMs = pct(lat, 1)
	f.SendLagP99Ms = pct(lag, .99)
	return f
}

func build(ss []sample, streams []struct {
	name, req string
	rate      float64
}) *reports.Results {
	fo := func(x float64) *float64 { return &x }
	res := &reports.Results{
		Scenario:        "link-db-latency",
		Description:     "Postgres behind link answers 400 ms late for 15 s; cached redirects stay fast.",
		File:            "scenarios/link-db-latency.yaml",
		Profile:         "default",
		Seed:            42,
		StartedAt:       time.Date(2026, 11, 25, 10, 4, 12, 0, time.UTC),
		DurationS:       dur,
		ExpectedVerdict: reports.VerdictPass,
		Valid:           true,
		Phases: []reports.PhaseWindow{
			{Name: reports.PhaseBaseline, StartS: 0, EndS: faultStart},
			{Name: reports.PhaseFault, StartS: faultStart, EndS: faultEnd},
			{Name: reports.PhaseRecovery, StartS: faultEnd, EndS: dur},
		},
		Faults: []reports.FaultEvent{{Fault: "latency", Target: "link->link-db", Params: map[string]string{"latency": "400ms", "jitter": "50ms"}, AppliedAt: 10.003, HealedAt: 25.002}},
	}
	for _, st := range streams {
		sr := reports.StreamResult{Name: st.name, Request: st.req, Rate: st.rate}
		var all []sample
		for _, pw := range res.Phases {
			var in []sample
			for _, s := range ss {
				if s.stream == st.name && s.phase == pw.Name {
					in = append(in, s)
				}
			}
			all = append(all, in...)
			sr.Phases = append(sr.Phases, figure(pw.Name, in, pw.EndS-pw.StartS))
		}
		sr.Phases = append(sr.Phases, figure("all", all, dur))
		res.Streams = append(res.Streams, sr)
		for sec := 0; sec < int(dur); sec++ {
			var in []sample
			for _, s := range all {
				if int(s.at) == sec {
					in = append(in, s)
				}
			}
			f := figure("", in, 1)
			res.Timeseries = append(res.Timeseries, reports.TimeBucket{Stream: st.name, T: float64(sec), Requests: f.Requests, Errors: f.Errors, P50Ms: f.P50Ms, P99Ms: f.P99Ms, MaxMs: f.MaxMs})
		}
	}
	get := func(stream, phase string) reports.PhaseFigure {
		for _, s := range res.Streams {
			if s.Name == stream {
				for _, p := range s.Phases {
					if p.Phase == phase {
						return p
					}
				}
			}
		}
		return reports.PhaseFigure{}
	}
	for _, ph := range []string{reports.PhaseBaseline, reports.PhaseFault, reports.PhaseRecovery} {
		f := get("redirect", ph)
		res.SLOs = append(res.SLOs,
			reports.SLOResult{Stream: "redirect", Phase: ph, Threshold: "p(99)<50ms", Value: f.P99Ms, Unit: "ms", Pass: f.P99Ms < 50},
			reports.SLOResult{Stream: "redirect", Phase: ph, Threshold: "errors<1%", Value: f.ErrorRate, Unit: "ratio", Pass: f.ErrorRate < 0.01})
	}
	cf := get("create", reports.PhaseFault)
	res.SLOs = append(res.SLOs,
		reports.SLOResult{Stream: "create", Phase: reports.PhaseFault, Threshold: "p(99)<1s", Value: cf.P99Ms, Unit: "ms", Pass: cf.P99Ms < 1000},
		reports.SLOResult{Stream: "create", Phase: reports.PhaseFault, Threshold: "errors<5%", Value: cf.ErrorRate, Unit: "ratio", Pass: cf.ErrorRate < 0.05})
	sf := get("stats", reports.PhaseRecovery)
	res.SLOs = append(res.SLOs, reports.SLOResult{Stream: "stats", Phase: reports.PhaseRecovery, Threshold: "p(95)<20ms", Value: sf.P95Ms, Unit: "ms", Pass: sf.P95Ms < 20})
	res.Verdict = reports.VerdictPass
	for _, s := range res.SLOs {
		if !s.Pass {
			res.Verdict = reports.VerdictFail
			res.Reasons = append(res.Reasons, fmt.Sprintf("SLO %s %s in %s: observed %g %s", s.Stream, s.Threshold, s.Phase, s.Value, s.Unit))
		}
	}
	res.AsExpected = res.Verdict == res.ExpectedVerdict
	if !res.AsExpected {
		res.Reasons = append(res.Reasons, "expected verdict pass, got "+res.Verdict)
	}
	res.DataSafety = &reports.DataSafety{LinksAcked: get("create", "all").StatusCodes["201"], LinksChecked: get("create", "all").StatusCodes["201"],
		LinkEventsCounted: get("create", "all").StatusCodes["201"],
		ClicksAcked:       get("redirect", "all").StatusCodes["302"], ClicksCounted: get("redirect", "all").StatusCodes["302"],
		DroppedClicks: map[string]int{"buffer_full": 0, "publish_error": 0}, Settled: true}
	edge := func(from, to string, calls [3]int, errs [3]int, p99 [3]float64) reports.MapEdge {
		e := reports.MapEdge{From: from, To: to}
		for i, ph := range []string{reports.PhaseBaseline, reports.PhaseFault, reports.PhaseRecovery} {
			rate := 0.0
			if calls[i] > 0 {
				rate = round(float64(errs[i])/float64(calls[i])*1e4) / 1e4
			}
			e.Phases = append(e.Phases, reports.EdgeFigure{Phase: ph, Calls: calls[i], Errors: errs[i], ErrorRate: rate, P50Ms: round(p99[i] / 4), P99Ms: p99[i]})
		}
		return e
	}
	res.ServiceMap = []reports.MapEdge{
		edge("gateway", "redirect", [3]int{500, 750, 750}, [3]int{0, 7, 0}, [3]float64{4.1, 212, 4.3}),
		edge("gateway", "link", [3]int{100, 150, 150}, [3]int{0, 46, 0}, [3]float64{9.8, 2003, 41}),
		edge("gateway", "analytics", [3]int{50, 75, 75}, [3]int{0, 0, 0}, [3]float64{4.2, 4.4, 4.1}),
		edge("redirect", "redis", [3]int{500, 750, 750}, [3]int{0, 0, 0}, [3]float64{0.9, 1.0, 0.9}),
		edge("redirect", "link", [3]int{41, 19, 57}, [3]int{0, 12, 0}, [3]float64{4.4, 201, 5.0}),
		edge("redirect", "nats", [3]int{500, 750, 750}, [3]int{0, 0, 0}, [3]float64{1.2, 1.3, 1.2}),
		edge("link", "link-db", [3]int{241, 331, 357}, [3]int{0, 0, 0}, [3]float64{3.1, 488, 3.4}),
		edge("link", "billing", [3]int{100, 150, 150}, [3]int{0, 0, 0}, [3]float64{2.2, 2.4, 2.1}),
		edge("link", "nats", [3]int{100, 104, 150}, [3]int{0, 0, 0}, [3]float64{1.5, 1.6, 1.5}),
		edge("analytics", "nats", [3]int{550, 854, 900}, [3]int{0, 0, 0}, [3]float64{1.1, 1.2, 1.1}),
		edge("analytics", "analytics-db", [3]int{600, 929, 975}, [3]int{0, 0, 0}, [3]float64{2.0, 2.1, 2.0}),
		edge("billing", "nats", [3]int{100, 104, 150}, [3]int{0, 0, 0}, [3]float64{1.3, 1.3, 1.2}),
	}
	svc := func(name string, affected bool, why string) reports.ServiceImpact {
		return reports.ServiceImpact{Name: name, Kind: "service", Affected: affected, Why: why}
	}
	res.BlastRadius = &reports.BlastRadius{
		Origins:          []string{"link->link-db"},
		Thresholds:       reports.BlastThresholds{ErrorRateDelta: 0.01, LatencyFactor: 2, LatencyMinMs: 20},
		AffectedServices: []string{"gateway", "link"},
		AffectedEdges:    []string{"gateway->link", "link->link-db", "redirect->link"},
		Services: []reports.ServiceImpact{
			svc("analytics", false, ""), svc("billing", false, ""),
			svc("gateway", true, "error rate +30.7 pts on POST /api/links"),
			svc("link", true, "p99 488 ms vs 9.8 ms baseline (×50)"),
			svc("redirect", false, "p99 212 ms vs 4.1 ms only before the breaker opened; errors +0.9 pts < 1 pt"),
			svc("link-db", false, ""), svc("redis", false, ""), svc("nats", false, ""),
		},
		UserImpact: map[string]float64{"redirect": round(get("redirect", reports.PhaseFault).ErrorRate*1e4) / 1e4, "create": cf.ErrorRate, "stats": 0},
		Propagation: []reports.PropagationPath{
			{Path: []string{"link-db", "link", "redirect"}, StoppedAt: "redirect", StoppedBy: "breaker"},
			{Path: []string{"link-db", "link", "gateway"}, Reached: true},
		},
	}
	res.Mechanisms = &reports.Mechanisms{
		BreakerTransitions: []reports.BreakerTransition{
			{Service: "redirect", Edge: "redirect->link", From: "closed", To: "open", AtS: 12.41},
			{Service: "redirect", Edge: "redirect->link", From: "open", To: "half-open", AtS: 14.42},
			{Service: "redirect", Edge: "redirect->link", From: "half-open", To: "open", AtS: 14.63},
			{Service: "redirect", Edge: "redirect->link", From: "open", To: "half-open", AtS: 16.64},
			{Service: "redirect", Edge: "redirect->link", From: "half-open", To: "open", AtS: 16.85},
			{Service: "redirect", Edge: "redirect->link", From: "open", To: "half-open", AtS: 25.71},
			{Service: "redirect", Edge: "redirect->link", From: "half-open", To: "closed", AtS: 25.93},
		},
		Breakers: []reports.BreakerSummary{
			{Edge: "redirect->link", Opened: true, OpenAfterS: fo(2.41), ClosedAfterS: fo(0.93)},
			{Edge: "link->billing", Opened: false},
		},
		RetriesPerRequest:  map[string]float64{"redirect->link": 0.42, "link->billing": 0},
		MaxRetriesPerCall:  map[string]int{"redirect->link": 2, "link->billing": 0},
		RetryGaps:          map[string]reports.RetryGap{"redirect->link": {Gaps: 49, MinMs: 10.2, MedianMs: 24.7}},
		Retries:            map[string]int{"redirect->link": 49},
		BulkheadRejections: map[string]int{"redirect->link": 0},
		Fallbacks:          map[string]int{"redirect->link": 27, "link->billing": 0},
		Timeouts:           map[string]int{"redirect->link": 38},
		RateLimited:        map[string]int{"create": 0},
		CacheHitRatio:      map[string]float64{"baseline": 0.92, "fault": 0.97, "recovery": 0.93},
	}
	res.Expectations = []reports.Expectation{
		{What: "verdict", Expected: "pass", Observed: res.Verdict, Pass: res.Verdict == reports.VerdictPass},
		{What: "blast_radius.contained_to", Expected: "[link]", Observed: "[gateway link]", Pass: false},
		{What: "blast_radius.user_impact.redirect", Expected: "<1%", Observed: fmt.Sprintf("%.2f%%", res.BlastRadius.UserImpact["redirect"]*100), Pass: res.BlastRadius.UserImpact["redirect"] < 0.01},
		{What: "data.lost_links", Expected: "0", Observed: "0", Pass: true},
		{What: "data.duplicate_clicks", Expected: "0", Observed: "0", Pass: true},
	}
	res.Telemetry = &reports.TelemetryHealth{SpansReceived: 48211}
	return res
}

func writeJSON(path string, v any) {
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}

func writeCSV(path string, ss []sample) {
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"stream", "phase", "scheduled_s", "lag_ms", "latency_ms", "code", "error"})
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].at < ss[j].at })
	for _, s := range ss {
		_ = w.Write([]string{s.stream, s.phase, strconv.FormatFloat(s.at, 'f', 3, 64), strconv.FormatFloat(s.lag, 'f', 3, 64),
			strconv.FormatFloat(s.lat, 'f', 3, 64), strconv.Itoa(s.code), s.err})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
