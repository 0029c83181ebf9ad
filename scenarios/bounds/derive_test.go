package bounds

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/system/policy"
	"github.com/faultline/faultline/system/topology"
)

func profile(t *testing.T, name string) *policy.Profile {
	t.Helper()
	p, err := policy.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRouteBounds: the worst latency of every route under the built-in profiles, worked out
// by hand from the YAML (the comments), so a change of profile or formula shows here.
func TestRouteBounds(t *testing.T) {
	ms := func(f float64) Bound { return at(time.Duration(f * float64(time.Millisecond))) }
	cases := []struct {
		profile, route string
		want           Bound
	}{
		// default. redirect: redis 2+50; link 3 × (5 + min(200, db 50+500)) + 20×1.5 + 40×1.5
		// = 705; redirect 52+705+52 = 809; gateway->redirect 2 × (10 + min(500, 809)) + 15 =
		// 1035; route 10 + min(1000, 1035).
		{"default", "redirect", ms(1010)},
		// billing 2 × (5+150) + 15 = 325; db 50+500; link 875; gateway->link 10 + min(1000, 875).
		{"default", "create", ms(895)},
		// gateway->link 10 + min(1000, db 550) = 560; route 10 + min(1000, 560).
		{"default", "get", ms(570)},
		// analytics-db 50+500; gateway->analytics 2 × (10 + min(300, 550)) + 15 = 635.
		{"default", "stats", ms(645)},
		// aggressive. redirect: redis 1+20; link 4 × (2 + min(80, 20+250)) + 15+30+60 = 433;
		// redirect 475; gateway->redirect 3 × (5 + min(300, 475)) + 7.5+15 = 937.5; route 5 + 500.
		{"aggressive", "redirect", ms(505)},
		// billing 3 × (2+80) + 22.5 = 268.5; db 270; link 538.5; gateway->link 5 + 538.5.
		{"aggressive", "create", ms(548.5)},
		{"aggressive", "get", ms(280)},
		// gateway->analytics 3 × (5 + min(150, 270)) + 22.5 = 487.5; route 5 + min(500, 487.5).
		{"aggressive", "stats", ms(492.5)},
		// none: no timeout anywhere, and the stores bound nothing.
		{"none", "redirect", Bound{}},
		{"none", "create", Bound{}},
		{"none", "get", Bound{}},
		{"none", "stats", Bound{}},
		// adaptive: no bulkhead waits; redis 50; link->link-db queues ≤ 50 + 500; redirect->link
		// 3 × (queue 5 + min(200, 550)) + 90 = 705; redirect 50+705+50; gateway->redirect
		// 2 × min(500, 805) + 15 = 1015; route min(1000, 1015), no route queue.
		{"adaptive", "redirect", ms(1000)},
		// create: route queue 10 + min(2000, gateway->link min(1000, link: billing 2 × 150 + 15
		// + db 550 = 865)).
		{"adaptive", "create", ms(875)},
		// no-timeout keeps the bulkheads and retries, which bound nothing without a timeout.
		{"no-timeout", "redirect", Bound{}},
	}
	for _, c := range cases {
		t.Run(c.profile+"/"+c.route, func(t *testing.T) {
			s, err := Route(profile(t, c.profile), c.route, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.Worst != c.want {
				t.Errorf("worst %s, want %s\n%s", s.Worst, c.want, strings.Join(s.Lines(), "\n"))
			}
		})
	}
	if _, err := Route(profile(t, "default"), "delete", nil); err == nil || !strings.Contains(err.Error(), "bounds: unknown route \"delete\"") {
		t.Errorf("unknown route: err %v", err)
	}
}

// TestHeldCallees: a fault on an edge or a paused callee leaves only the caller's timeout;
// without a timeout, nothing.
func TestHeldCallees(t *testing.T) {
	cases := []struct {
		name, profile, route string
		held                 Held
		want                 Bound
	}{
		// gateway->link: 10 + timeout 1000 instead of min(1000, 875).
		{"paused link", "default", "create", Held{"gateway->link": "pause on link"}, at(1020 * time.Millisecond)},
		// redirect->link already cut at 200 ms < link's 550: nothing changes.
		{"slow redirect->link", "default", "redirect", Held{"redirect->link": "latency on redirect->link"}, at(1010 * time.Millisecond)},
		// a held store edge changes nothing: only its timeout bounded it anyway.
		{"slow link-db", "default", "get", Held{"link->link-db": "latency on link->link-db"}, at(570 * time.Millisecond)},
		{"none stays unbounded", "none", "get", Held{"gateway->link": "pause on link"}, Bound{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Route(profile(t, c.profile), c.route, c.held)
			if err != nil {
				t.Fatal(err)
			}
			if s.Worst != c.want {
				t.Errorf("worst %s, want %s\n%s", s.Worst, c.want, strings.Join(s.Lines(), "\n"))
			}
		})
	}
}

// TestRetries: attempts and the longest backoffs, as failsafe-go computes them.
func TestRetries(t *testing.T) {
	d := func(ms int) policy.Duration { return policy.Duration(time.Duration(ms) * time.Millisecond) }
	cases := []struct {
		name     string
		r        *policy.Retry
		attempts int
		total    time.Duration
		text     string
	}{
		{"no retry", nil, 1, 0, ""},
		{"zero retries", &policy.Retry{Backoff: d(10)}, 1, 0, ""},
		{"no backoff", &policy.Retry{MaxRetries: 2}, 3, 0, ""},
		{"doubling up to max, no jitter", &policy.Retry{MaxRetries: 4, Backoff: d(20), MaxBackoff: d(50)}, 5,
			160 * time.Millisecond, "backoffs 20ms + 40ms + 50ms + 50ms (20ms, 40ms, 50ms, 50ms)"},
		{"fixed, jitter at its top", &policy.Retry{MaxRetries: 2, Backoff: d(30), Jitter: 0.25}, 3,
			75 * time.Millisecond, "backoffs 37.5ms + 37.5ms (30ms, 30ms × (1 + jitter 0.25))"},
		{"one", &policy.Retry{MaxRetries: 1, Backoff: d(10), MaxBackoff: d(50), Jitter: 0.5}, 2,
			15 * time.Millisecond, "backoff 15ms (10ms × (1 + jitter 0.5))"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, total, text := retries(c.r)
			if n != c.attempts || total != c.total || text != c.text {
				t.Errorf("got %d attempts, %s, %q; want %d, %s, %q", n, total, text, c.attempts, c.total, c.text)
			}
		})
	}
}

func TestRouteOf(t *testing.T) {
	cases := []struct{ method, path, want string }{
		{"GET", "/r/{code}", "redirect"},
		{"GET", "/r/abc123", "redirect"},
		{"POST", "/api/links", "create"},
		{"GET", "/api/links/{code}", "get"},
		{"GET", "/api/links/{code}/stats", "stats"},
		{"GET", "/api/links/abc/stats?x=1", "stats"},
		{"GET", "/api/links", ""},
		{"POST", "/r/{code}", ""},
		{"GET", "/r/", ""},
		{"GET", "/healthz", ""},
	}
	for _, c := range cases {
		if got := RouteOf(c.method, c.path); got != c.want {
			t.Errorf("RouteOf(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

// TestTopologyNamesKnownEdgesAndRoutes: every route a profile may guard has a chain here, and
// every edge named is one of the topology's (a typo would silently leave an edge unbounded).
func TestTopologyNamesKnownEdgesAndRoutes(t *testing.T) {
	var names []string
	var walk func(c call)
	walk = func(c call) {
		if !topology.IsEdge(c.edge) {
			t.Errorf("unknown edge %q", c.edge)
		}
		if c.callee != nil {
			for _, in := range c.callee.calls {
				walk(in)
			}
		}
	}
	for _, r := range routes {
		names = append(names, r.name)
		walk(r.relay)
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(policy.KnownRoutes))
	if !slices.Equal(names, want) {
		t.Errorf("routes %v, want the profile's %v", names, want)
	}
}

// A hedge makes a round last until its last hedge's attempt ends; a queueing limiter adds its
// max_wait_time to each attempt.
func TestAdaptiveAttempt(t *testing.T) {
	p := profile(t, "hedged")
	got, text := adaptiveAttempt(p.Edge("redirect->link"), at(200*time.Millisecond), "timeout 200ms")
	if want := at(230 * time.Millisecond); got != want {
		t.Errorf("hedged redirect->link round = %s (%s), want %s: 25ms last hedge + 5ms queue + 200ms", got, text, want)
	}
	if !strings.Contains(text, "last hedge at 1 × 25ms") || !strings.Contains(text, "adaptive limiter queue 5ms") {
		t.Errorf("formula %q does not name the hedge and the queue", text)
	}
	if got, _ := adaptiveAttempt(profile(t, "default").Edge("redirect->link"), at(time.Second), ""); got != at(time.Second) {
		t.Errorf("default adds %s to an attempt, want nothing", got)
	}
}
