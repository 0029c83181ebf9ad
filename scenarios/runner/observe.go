package runner

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

// services are the components that export spans and metrics.
var services = topology.Services()

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
