package scenarios

import (
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/faultline/faultline/system/profiles"
)

// The flood scenario (issue "Every policy checked against its own configuration", point 3) is
// worth its run only while its bounds tell a gateway that sheds from one that admits. These
// tests keep it so when its profile, its rates or its SLOs are edited.

// guardedRoutes maps a request to the gateway route guarding it and the edge behind that
// route (system/internal/gateway/routes.go).
var guardedRoutes = map[string]struct{ route, edge string }{
	"GET /r/{code}":               {"redirect", "gateway->redirect"},
	"POST /api/links":             {"create", "gateway->link"},
	"GET /api/links/{code}":       {"get", "gateway->link"},
	"GET /api/links/{code}/stats": {"stats", "gateway->analytics"},
}

// routeGuard is the part of a profile's route policy the flood is judged against.
type routeGuard struct {
	MaxConcurrent float64 `yaml:"max_concurrent"`
	RateLimit     float64 `yaml:"rate_limit"`
}

// TestFloodProfileIsDefaultButItsRoutes: the flood's profile differs from default only in the
// guards of the two routes it floods, so the flood exercises what default ships with.
func TestFloodProfileIsDefaultButItsRoutes(t *testing.T) {
	def, err := fs.ReadFile(profiles.FS, "default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	flood, err := os.ReadFile("profiles/flood.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	if err := yaml.Unmarshal(def, &a); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(flood, &b); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]any{a, b} {
		delete(m, "name")
		delete(m, "description")
		routes, _ := m["routes"].(map[string]any)
		delete(routes, "get")
		delete(routes, "stats")
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("profiles/flood.yaml differs from default beyond the get and stats routes:\ndefault %v\nflood   %v", a, b)
	}
}

// TestFloodBoundsCatchAnAdmittingGuard: every flooded route (a stream asking at least twice
// its rate limit) has a fault-phase goodput<= bound that a working guard meets and a guard
// that lets the excess through breaks: below the flood's rate (a limiter that admits), and,
// where the route's concurrency binds first (max_concurrent / the latency behind the route is
// below the rate limit), below the rate limit (a bulkhead that admits). One route of each kind.
func TestFloodBoundsCatchAnAdmittingGuard(t *testing.T) {
	sc, err := ParseFile("flood.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sc.Profile)
	if err != nil {
		t.Fatal(err)
	}
	var prof struct {
		Routes map[string]routeGuard `yaml:"routes"`
	}
	if err := yaml.Unmarshal(data, &prof); err != nil {
		t.Fatal(err)
	}
	latency := map[string]float64{} // seconds added behind an edge for the whole run
	for _, f := range sc.Faults {
		if f.Background && f.Fault == "latency" && f.At == 0 && f.For == sc.Duration {
			latency[f.Edge] = paramSeconds(t, f.Params["latency"])
		}
	}
	rateBound, concurrencyBound := 0, 0
	for _, st := range sc.Load {
		peak := st.Rate
		for _, sg := range st.Stages {
			peak = max(peak, sg.Rate)
		}
		r, ok := guardedRoutes[st.Request]
		g := prof.Routes[r.route]
		if !ok || g.RateLimit == 0 || peak < 2*g.RateLimit {
			continue
		}
		bound, found := goodputAtMost(sc, st.Name)
		if !found {
			t.Errorf("stream %s floods route %s (%.0f/s, limit %.0f/s) but has no goodput<= bound in the fault phase", st.Name, r.route, peak, g.RateLimit)
			continue
		}
		serves := g.RateLimit
		if l := latency[r.edge]; g.MaxConcurrent > 0 && l > 0 && g.MaxConcurrent/l < g.RateLimit {
			serves = g.MaxConcurrent / l
			concurrencyBound++
			if bound >= g.RateLimit {
				t.Errorf("stream %s: goodput<=%.0f/s does not fail a route bulkhead that admits all its limiter lets through (%.0f/s)", st.Name, bound, g.RateLimit)
			}
		} else {
			rateBound++
			if bound > 1.2*g.RateLimit {
				t.Errorf("stream %s: goodput<=%.0f/s lets through more than 1.2x the rate limit %.0f/s", st.Name, bound, g.RateLimit)
			}
		}
		if bound >= peak {
			t.Errorf("stream %s: goodput<=%.0f/s does not fail a guard that admits the whole flood (%.0f/s)", st.Name, bound, peak)
		}
		if bound <= serves {
			t.Errorf("stream %s: goodput<=%.0f/s fails a working guard, which serves about %.0f/s", st.Name, bound, serves)
		}
	}
	if rateBound == 0 || concurrencyBound == 0 {
		t.Errorf("flood drives %d routes beyond their rate limit and %d beyond their concurrency, want at least one of each", rateBound, concurrencyBound)
	}
}

// goodputAtMost returns the goodput<= bound of stream in the fault phase.
func goodputAtMost(sc *Scenario, stream string) (float64, bool) {
	for _, s := range sc.SLOs {
		if s.Load != stream || !strings.Contains(strings.Join(s.Phases, ","), "fault") {
			continue
		}
		for _, th := range s.Thresholds {
			if th.Metric == "goodput" && th.Op == "<=" {
				return th.Value, true
			}
		}
	}
	return 0, false
}

// paramSeconds reads a fault's duration parameter, a Go duration or a bare number of milliseconds.
func paramSeconds(t *testing.T, v string) float64 {
	t.Helper()
	if d, err := time.ParseDuration(v); err == nil {
		return d.Seconds()
	}
	ms, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("latency %q: %v", v, err)
	}
	return ms / 1000
}
