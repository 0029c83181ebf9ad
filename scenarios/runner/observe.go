package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
)

// services are the components that export spans and metrics.
var services = []string{"gateway", "link", "redirect", "analytics", "billing"}

// breakerLogMsg is the message the services log on every breaker state change.
const breakerLogMsg = "resilience: breaker state changed"

// breakerTransitions reads every breaker state change the services logged (their structured
// stderr, captured by the lab), with times from the run start. Logs are the one record that
// does not depend on a request passing by at the right moment, unlike span attributes.
func breakerTransitions(logDir string, start time.Time) []reports.BreakerTransition {
	var out []reports.BreakerTransition
	for _, svc := range services {
		f, err := os.Open(filepath.Join(logDir, svc+".log"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !strings.Contains(string(line), breakerLogMsg) {
				continue
			}
			var rec struct {
				Time    time.Time `json:"time"`
				Msg     string    `json:"msg"`
				Service string    `json:"service"`
				Edge    string    `json:"edge"`
				From    string    `json:"from"`
				To      string    `json:"to"`
			}
			if json.Unmarshal(line, &rec) != nil || rec.Msg != breakerLogMsg || rec.Time.Before(start) {
				continue
			}
			if rec.Service == "" {
				rec.Service = svc
			}
			out = append(out, reports.BreakerTransition{Service: rec.Service, Edge: rec.Edge, From: rec.From, To: rec.To, AtS: rec.Time.Sub(start).Seconds()})
		}
		f.Close()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].AtS < out[j].AtS })
	return out
}

// spansDroppedBySDK sums what each service's span pipeline reported as dropped, read from its
// /metrics just before shutdown.
func spansDroppedBySDK(ctx context.Context, c *http.Client, direct func(string) string) (int, []string) {
	total := 0
	var notes []string
	for _, svc := range services {
		n, err := scrapeCounter(ctx, c, direct(svc)+"/metrics", "otel_spans_dropped_total")
		if err != nil {
			notes = append(notes, svc+": spans dropped unknown: "+err.Error())
			continue
		}
		total += n
	}
	return total, notes
}

// scrapeCounter reads one unlabelled counter from a Prometheus text exposition.
func scrapeCounter(ctx context.Context, c *http.Client, url, name string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return int(v), err
		}
	}
	return 0, sc.Err()
}
