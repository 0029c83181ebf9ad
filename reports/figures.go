package reports

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/faultline/faultline/internal/percentile"
)

// Sample is one load request as reports sees it; callers convert their own result type, so
// reports imports no load generator.
type Sample struct {
	Stream  string
	Phase   string        // set by AssignPhases from At
	At      time.Duration // scheduled send time, from the run start
	Lag     time.Duration // actual send time minus scheduled send time
	Latency time.Duration
	Code    int    // HTTP status, 0 on a transport error
	Err     string // transport error or non-success status text
	// Pending marks a request still in flight when measured (the live window only): Latency
	// is its age so far, the least it will take, and it has failed only if Err says so.
	Pending bool
}

// Failed says whether a sample counts as an error: a transport error or any status outside
// 2xx/3xx (a 302 redirect is the shortener's success). A pending request has no status yet.
func (s Sample) Failed() bool {
	if s.Pending {
		return s.Err != ""
	}
	return s.Err != "" || s.Code < 200 || s.Code >= 400
}

// Latencies returns every sample's latency in ms, ascending. Failed requests count:
// leaving them out would let a timeout or a hung connection improve the percentile.
func Latencies(samples []Sample) []float64 {
	out := make([]float64, len(samples))
	for i, s := range samples {
		out[i] = ms(s.Latency)
	}
	sort.Float64s(out)
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Mean is the arithmetic mean of v, 0 for none.
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// CountFailed counts the samples that failed (Sample.Failed).
func CountFailed(samples []Sample) int {
	n := 0
	for _, s := range samples {
		if s.Failed() {
			n++
		}
	}
	return n
}

// Units of a measured value (SLOResult.Unit).
const (
	UnitMs    = "ms"
	UnitRatio = "ratio"
	UnitPerS  = "per_s"
)

// StreamSpec describes a load stream for the figures.
type StreamSpec struct {
	Name    string
	Request string
	Rate    float64 // asked, per second (the final rate of a ramp or stages)
	// Schedule spells a rate that changes ("50/s for 8s, 450/s for 10s, then 50/s"); empty
	// for a constant rate.
	Schedule string
	// Asked, when set, is how many requests the stream's schedule asks for in [from, to),
	// offsets from the run start (the expected number: a continuous count, not rounded).
	// Without it the figures carry no asked rate and the generator's rate is not judged.
	Asked func(from, to time.Duration) float64
}

// maxErrorSamples bounds the distinct error texts kept per stream and phase.
const maxErrorSamples = 5

// Figures computes each stream's figures in every phase window and over the whole run
// (PhaseAll). Samples must carry their Phase (see AssignPhases).
func Figures(samples []Sample, streams []StreamSpec, windows []PhaseWindow) []StreamResult {
	out := make([]StreamResult, 0, len(streams))
	names := append(phaseNames(windows), PhaseAll)
	for _, st := range streams {
		res := StreamResult{Name: st.Name, Request: st.Request, Rate: st.Rate, Schedule: st.Schedule}
		for _, ph := range names {
			f := phaseFigure(Select(samples, st.Name, ph), ph, Windows(windows, ph))
			if st.Asked != nil {
				askedRate(&f, st.Asked, Windows(windows, ph))
			}
			res.Phases = append(res.Phases, f)
		}
		out = append(out, res)
	}
	return out
}

// phaseNames lists each phase once, in the order of its first window.
func phaseNames(windows []PhaseWindow) []string {
	names := make([]string, 0, len(windows))
	for _, w := range windows {
		if !slices.Contains(names, w.Name) {
			names = append(names, w.Name)
		}
	}
	return names
}

// Select returns a stream's samples in one phase (every phase for PhaseAll).
func Select(samples []Sample, stream, phase string) []Sample {
	var out []Sample
	for _, s := range samples {
		if s.Stream == stream && (phase == PhaseAll || s.Phase == phase) {
			out = append(out, s)
		}
	}
	return out
}

func phaseFigure(samples []Sample, phase string, windows []PhaseWindow) PhaseFigure {
	f := PhaseFigure{Phase: phase, Requests: len(samples), SendWindowS: SendWindow(samples, windows)}
	if len(samples) == 0 {
		return f
	}
	f.Errors = CountFailed(samples)
	f.ErrorRate = float64(f.Errors) / float64(len(samples))
	if f.SendWindowS > 0 {
		f.AchievedRate = float64(len(samples)) / f.SendWindowS
	}
	lat := Latencies(samples)
	f.P50Ms, f.P90Ms, f.P95Ms, f.P99Ms = percentile.Of(lat, 50), percentile.Of(lat, 90), percentile.Of(lat, 95), percentile.Of(lat, 99)
	f.MaxMs, f.MeanMs = lat[len(lat)-1], Mean(lat)
	f.OKP50Ms, f.OKP99Ms = OKLatencies(samples)
	lags := make([]float64, len(samples))
	f.StatusCodes = map[string]int{}
	for i, s := range samples {
		lags[i] = ms(s.Lag)
		code := strconv.Itoa(s.Code)
		if s.Code == 0 {
			code = "transport_error"
		}
		f.StatusCodes[code]++
		if s.Failed() && s.Err != "" && len(f.ErrorSamples) < maxErrorSamples && !slices.Contains(f.ErrorSamples, s.Err) {
			f.ErrorSamples = append(f.ErrorSamples, s.Err)
		}
	}
	sort.Float64s(lags)
	f.SendLagP99Ms = percentile.Of(lags, 99)
	return f
}

// SendWindow is the wall-clock time, in seconds, the sending of a phase's requests took:
// from the first scheduled send to the last actual send of each of its windows, plus the
// schedule's own gaps before its first and after its last scheduled send. A window sent on
// time thus measures its own length, and one whose last request went out late is stretched
// by that lateness: the achieved rate over it never reads the asked rate when the sending
// ran late (requests ÷ the nominal length did). Samples are matched to windows by their
// scheduled time At, as AssignPhases does; a window without samples counts its length.
func SendWindow(samples []Sample, windows []PhaseWindow) float64 {
	total := 0.0
	for _, w := range windows {
		var lastAt, lastSent time.Duration
		for _, s := range samples {
			if at := s.At.Seconds(); at < w.StartS || at >= w.EndS {
				continue
			}
			lastAt = max(lastAt, s.At)
			lastSent = max(lastSent, s.At+s.Lag)
		}
		total += w.EndS - w.StartS + max(0, lastSent-lastAt).Seconds()
	}
	return total
}

// askedRate fills the asked figures of a phase from the stream's schedule.
func askedRate(f *PhaseFigure, asked func(from, to time.Duration) float64, windows []PhaseWindow) {
	length := 0.0
	for _, w := range windows {
		f.AskedRequests += asked(durationOf(w.StartS), durationOf(w.EndS))
		length += w.EndS - w.StartS
	}
	if length > 0 {
		f.AskedRate = f.AskedRequests / length
	}
}

func durationOf(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

// Timeseries buckets each stream's samples by the second of their scheduled time.
func Timeseries(samples []Sample) []TimeBucket {
	type key struct {
		stream string
		sec    int64
	}
	groups := map[key][]Sample{}
	for _, s := range samples {
		k := key{s.Stream, int64(s.At / time.Second)}
		groups[k] = append(groups[k], s)
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].stream != keys[j].stream {
			return keys[i].stream < keys[j].stream
		}
		return keys[i].sec < keys[j].sec
	})
	out := make([]TimeBucket, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		lat := Latencies(g)
		out = append(out, TimeBucket{
			Stream: k.stream, T: float64(k.sec), Requests: len(g), Errors: CountFailed(g),
			P50Ms: percentile.Of(lat, 50), P99Ms: percentile.Of(lat, 99), MaxMs: lat[len(lat)-1],
		})
	}
	return out
}

// OKLatencies are the p50 and p99 (percentile.Of) of the successful samples' latencies in ms, nil when none
// succeeded.
func OKLatencies(samples []Sample) (p50, p99 *float64) {
	var ok []Sample
	for _, s := range samples {
		if !s.Failed() && !s.Pending {
			ok = append(ok, s)
		}
	}
	if len(ok) == 0 {
		return nil, nil
	}
	lat := Latencies(ok)
	a, b := percentile.Of(lat, 50), percentile.Of(lat, 99)
	return &a, &b
}
