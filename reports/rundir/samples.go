package rundir

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/faultline/faultline/reports"
)

// Sample is one request of a load stream, a row of samples.csv.
type Sample struct {
	Stream     string
	Phase      string
	ScheduledS float64 // seconds from the run start
	LagMs      float64 // how late it was sent
	LatencyMs  float64
	Code       int
	Error      string
}

// sampleColumns is the header WriteSamples writes.
var sampleColumns = []string{"stream", "phase", "scheduled_s", "lag_ms", "latency_ms", "code", "error"}

// WriteSamples writes the raw load results as samples.csv, one row per request.
func WriteSamples(out io.Writer, samples []reports.Sample) error {
	w := csv.NewWriter(out)
	w.Write(sampleColumns)
	for _, s := range samples {
		w.Write([]string{s.Stream, s.Phase, strconv.FormatFloat(s.At.Seconds(), 'f', 4, 64),
			strconv.FormatFloat(float64(s.Lag)/1e6, 'f', 3, 64), strconv.FormatFloat(float64(s.Latency)/1e6, 'f', 3, 64),
			strconv.Itoa(s.Code), s.Err})
	}
	w.Flush()
	return w.Error()
}

// ErrSamples is wrapped by every samples.csv decoding error.
var ErrSamples = errors.New("report: samples.csv")

// ReadSamples decodes samples.csv. Columns are found by header name, so extra or reordered
// columns are fine; stream and latency_ms are required.
func ReadSamples(r io.Reader) ([]Sample, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrSamples, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.ToLower(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"stream", "latency_ms"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%w: no %q column", ErrSamples, need)
		}
	}
	field := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	num := func(rec []string, name string, line int) (float64, error) {
		s := field(rec, name)
		if s == "" {
			return 0, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: line %d: %s: %w", ErrSamples, line, name, err)
		}
		return v, nil
	}
	var out []Sample
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSamples, err)
		}
		s := Sample{Stream: field(rec, "stream"), Phase: field(rec, "phase"), Error: field(rec, "error")}
		if s.ScheduledS, err = num(rec, "scheduled_s", line); err != nil {
			return nil, err
		}
		if s.LagMs, err = num(rec, "lag_ms", line); err != nil {
			return nil, err
		}
		if s.LatencyMs, err = num(rec, "latency_ms", line); err != nil {
			return nil, err
		}
		code, err := num(rec, "code", line)
		if err != nil {
			return nil, err
		}
		s.Code = int(code)
		out = append(out, s)
	}
}
