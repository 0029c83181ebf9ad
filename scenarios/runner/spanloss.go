package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
)

// A span a service ends but never delivers never reaches the receiver, so only the service can
// count it. Each service process logs spansStartMsg when span export starts and, after its
// final flush on a clean shutdown, spansFlushedMsg with every span it did not get exported
// (system/internal/telemetry). A process killed with SIGKILL leaves no count: its loss is
// unknown, never 0. A service still running after the system was closed (a compose stack) is
// read from its counter instead, as the difference over the run.
const (
	spansStartMsg   = "telemetry: exporting spans"
	spansFlushedMsg = "telemetry: spans flushed"
	spansMetric     = "otel_spans_dropped_total"
	startTimeMetric = "process_start_time_seconds"
)

// killingFaults are the fault types that SIGKILL a component: its process cannot count its
// spans, as the scenario intends.
var killingFaults = map[string]bool{"crash": true, "restart": true}

// spanProcess is one process of a service as its log tells it.
type spanProcess struct {
	started bool // its start line is in the log window (else it began before the run)
	flushed bool // it logged its final count
	dropped int
}

// spanProcesses reads one service's log: a process per start line, and whether each ended with
// its final count. Lines before since belong to an earlier attempt in the same directory.
func spanProcesses(path string, since time.Time) ([]spanProcess, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []spanProcess
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), "telemetry: ") {
			continue
		}
		var rec struct {
			Time    time.Time `json:"time"`
			Msg     string    `json:"msg"`
			Dropped *int      `json:"dropped"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Time.Before(since) {
			continue
		}
		switch rec.Msg {
		case spansStartMsg:
			out = append(out, spanProcess{started: true})
		case spansFlushedMsg:
			if rec.Dropped == nil {
				continue // not a count: the process's loss stays unknown
			}
			if n := len(out); n == 0 || out[n-1].flushed {
				out = append(out, spanProcess{}) // a process that began before the window
			}
			out[len(out)-1].flushed, out[len(out)-1].dropped = true, *rec.Dropped
		}
	}
	return out, sc.Err()
}

// counterRead is one read of a service's span counter over /metrics.
type counterRead struct {
	ok      bool
	dropped int
	start   float64 // process start time: tells a restarted process
	err     error
}

func readSpanCounter(ctx context.Context, c *http.Client, base string) counterRead {
	body, err := getMetrics(ctx, c, base+"/metrics")
	if err != nil {
		return counterRead{err: err}
	}
	dropped, err := metricValue(body, spansMetric)
	if err != nil {
		return counterRead{err: err}
	}
	start, err := metricValue(body, startTimeMetric)
	if err != nil {
		return counterRead{err: err}
	}
	return counterRead{ok: true, dropped: int(dropped), start: start}
}

// spanLoss is what the lab could establish about one service's span loss.
type spanLoss struct {
	dropped int      // spans its processes reported losing
	unknown int      // processes that left no count
	why     []string // how each unknown came about
}

// accountSpans adds up one service's processes: the final count of each one that logged it,
// the counter of the one still running after the system was closed, and an unknown for every
// other one. before and after are the counter read before the run and after the close.
func accountSpans(procs []spanProcess, before, after counterRead) spanLoss {
	var l spanLoss
	if after.ok {
		if before.ok && before.start == after.start {
			// One process lived through the whole run: its counter tells everything.
			l.dropped = max(after.dropped-before.dropped, 0)
			return l
		}
		// It restarted during the run: the running process counts from its start, and its
		// start line is the last one without a count.
		l.dropped += after.dropped
		if n := len(procs); n > 0 && !procs[n-1].flushed {
			procs = procs[:n-1]
		}
		if before.ok && !beganBefore(procs) {
			l.unknown++
			l.why = append(l.why, "the process running when the run began left no final count")
		}
	}
	for _, p := range procs {
		switch {
		case p.flushed && !p.started && before.ok:
			l.dropped += max(p.dropped-before.dropped, 0) // only what it lost during the run
		case p.flushed:
			l.dropped += p.dropped
		default:
			l.unknown++
			l.why = append(l.why, "a process ended without its final count (killed)")
		}
	}
	if !after.ok && len(procs) == 0 {
		l.unknown++
		why := "no final count in its log"
		if after.err != nil {
			why += " and no counter: " + after.err.Error()
		}
		l.why = append(l.why, why)
	}
	return l
}

func beganBefore(procs []spanProcess) bool {
	for _, p := range procs {
		if !p.started && p.flushed {
			return true
		}
	}
	return false
}

// sdkSpanLoss accounts for every service's spans once the system is closed. killed counts,
// per component, the processes the scenario's own faults killed: their unknown loss is
// expected (those processes' own spans near the crash; the callers' spans still show the
// blast radius); any other unknown loss is not.
func sdkSpanLoss(ctx context.Context, c *http.Client, direct func(string) string, logDir string, since time.Time,
	before map[string]counterRead, killed map[string]int) (int, []reports.UnknownSpanLoss) {
	total := 0
	var unknown []reports.UnknownSpanLoss
	for _, svc := range services {
		procs, err := spanProcesses(filepath.Join(logDir, svc+".log"), since)
		if err != nil {
			procs = nil // an unreadable log tells nothing: the loss is unknown unless counted below
		}
		l := accountSpans(procs, before[svc], readSpanCounter(ctx, c, direct(svc)))
		total += l.dropped
		if l.unknown > 0 {
			unknown = append(unknown, reports.UnknownSpanLoss{
				Service: svc, Processes: l.unknown, Expected: l.unknown <= killed[svc],
				Why: strings.Join(l.why, "; "),
			})
		}
	}
	return total, unknown
}

// killedBy counts the processes each component lost to the scenario's own faults.
func killedBy(faults []reports.FaultEvent) map[string]int {
	out := map[string]int{}
	for _, f := range faults {
		if killingFaults[f.Fault] {
			out[f.Target]++
		}
	}
	return out
}

// unknownLossNotes explains each unknown loss in the telemetry notes.
func unknownLossNotes(unknown []reports.UnknownSpanLoss) []string {
	var notes []string
	for _, u := range unknown {
		if u.Expected {
			notes = append(notes, fmt.Sprintf("%s: %d processes killed by the scenario's own faults left no span count: their spans near the crash are missing, the callers' spans still show it", u.Service, u.Processes))
		} else {
			notes = append(notes, fmt.Sprintf("%s: span loss unknown: %s", u.Service, u.Why))
		}
	}
	return notes
}

// errNoMetric: the exposition has no such series. A missing count is unknown, not 0.
var errNoMetric = errors.New("metric not exposed")

func getMetrics(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return string(b), err
}

// metricValue reads the first sample of name, labelled or not, from a Prometheus text
// exposition.
func metricValue(body, name string) (float64, error) {
	for line := range strings.SplitSeq(body, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if rest[0] == '{' {
			i := strings.LastIndexByte(rest, '}')
			if i < 0 {
				return 0, fmt.Errorf("%s: malformed sample %q", name, line)
			}
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, fmt.Errorf("%s: malformed sample %q", name, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("%s: %w", name, errNoMetric)
}
