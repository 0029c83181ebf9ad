package resilience

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBuiltinProfilesLoad(t *testing.T) {
	want := []string{"adaptive", "aggressive", "default", "hedged", "no-adaptive-limiter", "no-backoff", "no-breaker", "no-budget", "no-dedup", "no-fallback", "no-outbox", "no-throttler", "no-timeout", "none", "unbounded-bulkhead"}
	if got := strings.Join(Builtins(), " "); got != strings.Join(want, " ") {
		t.Fatalf("builtins = %s, want %s", got, strings.Join(want, " "))
	}
	for _, n := range want {
		p, err := Load(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if p.Name != n {
			t.Errorf("%s: name %q", n, p.Name)
		}
	}
}

// Each mutant removes exactly one protection from default.
func TestMutantsRemoveOneProtection(t *testing.T) {
	def := mustLoad(t, "default")
	none := mustLoad(t, "none")
	if len(none.Edges) != 0 || len(none.Routes) != 0 {
		t.Errorf("none protects something: %+v", none)
	}
	checks := map[string]func(p *Profile) string{
		"no-timeout": func(p *Profile) string {
			for n, e := range p.Edges {
				if e.Timeout != 0 || e.Retry != def.Edges[n].Retry && !sameRetry(e.Retry, def.Edges[n].Retry) {
					return n + " still has a timeout or changed retry"
				}
				if e.CircuitBreaker == nil && def.Edges[n].CircuitBreaker != nil {
					return n + " lost its breaker"
				}
			}
			for n, r := range p.Routes {
				if r.Timeout != 0 {
					return "route " + n + " still has a timeout"
				}
			}
			return ""
		},
		"no-breaker": func(p *Profile) string {
			for n, e := range p.Edges {
				if e.CircuitBreaker != nil || e.Timeout != def.Edges[n].Timeout {
					return n
				}
			}
			return ""
		},
		"unbounded-bulkhead": func(p *Profile) string {
			for n, e := range p.Edges {
				if e.Bulkhead != nil || e.CircuitBreaker == nil && def.Edges[n].CircuitBreaker != nil {
					return n
				}
			}
			for n, r := range p.Routes {
				if r.MaxConcurrent != 0 || r.RateLimit != def.Routes[n].RateLimit {
					return "route " + n
				}
			}
			return ""
		},
		"no-fallback": func(p *Profile) string {
			for n, e := range p.Edges {
				if e.Fallback != "" || e.Timeout != def.Edges[n].Timeout {
					return n
				}
			}
			return ""
		},
		"no-backoff": func(p *Profile) string {
			for n, e := range p.Edges {
				if (e.Retry == nil) != (def.Edges[n].Retry == nil) {
					return n + " retry presence changed"
				}
				if e.Retry != nil && (e.Retry.Backoff != 0 || e.Retry.MaxRetries < 5) {
					return n + " still backs off"
				}
			}
			return ""
		},
		"no-dedup":  func(p *Profile) string { return cond(p.Events.Dedup || !p.Events.Outbox, "events") },
		"no-outbox": func(p *Profile) string { return cond(p.Events.Outbox || !p.Events.Dedup, "events") },
	}
	for name, check := range checks {
		p := mustLoad(t, name)
		if len(p.Edges) != len(def.Edges) || len(p.Routes) != len(def.Routes) {
			t.Errorf("%s: edges/routes differ in number from default", name)
		}
		if msg := check(p); msg != "" {
			t.Errorf("%s: %s", name, msg)
		}
	}
	if !def.Events.Outbox || !def.Events.Dedup {
		t.Errorf("default events = %+v, want outbox and dedup", def.Events)
	}
	if e := def.Edge("link->billing"); e.Fallback != FallbackFailOpen || e.Timeout.D() != 150*time.Millisecond {
		t.Errorf("default link->billing = %+v", e)
	}
}

// none and no-timeout say they have no timeout: no limits either (server deadlines, connect
// and Redis socket timeouts), which every other profile keeps as default has them.
func TestLimitsOnlyWhereTheProfileSaysSo(t *testing.T) {
	def := mustLoad(t, "default")
	if def.Limits.Server.ReadTimeout == 0 || def.Limits.ConnectTimeout == 0 || def.Limits.RedisTimeout == 0 {
		t.Fatalf("default limits %+v: want the servers', connect and Redis timeouts", def.Limits)
	}
	for _, n := range Builtins() {
		want := def.Limits
		if n == "none" || n == "no-timeout" {
			want = Limits{}
		}
		if got := mustLoad(t, n).Limits; got != want {
			t.Errorf("%s: limits %+v, want %+v", n, got, want)
		}
	}
}

func sameRetry(a, b *Retry) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func cond(bad bool, msg string) string {
	if bad {
		return msg
	}
	return ""
}

func mustLoad(t *testing.T, n string) *Profile {
	t.Helper()
	p, err := Load(n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProfileFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < 5 {
		t.Fatalf("only %d fixtures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.Base(f), data)
			if strings.HasSuffix(f, ".good.yaml") {
				if err != nil {
					t.Fatalf("good fixture refused: %v", err)
				}
				return
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatal("bad fixture without a '# want: ' first line")
			}
			if err == nil {
				t.Fatalf("bad fixture accepted, want error containing %q", want)
			}
			if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "profile: ") {
				t.Fatalf("error = %q, want it to contain %q", err, want)
			}
		})
	}
}

func TestFullFixtureValues(t *testing.T) {
	p, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := p.Edge("redirect->link")
	if e.Timeout.D() != 200*time.Millisecond || e.Retry.MaxRetries != 2 || e.Retry.Jitter != 0.5 ||
		e.CircuitBreaker.Window != 20 || e.Bulkhead.MaxConcurrent != 64 || e.Fallback != FallbackStaleCache {
		t.Errorf("edge = %+v", e)
	}
	if r := p.Route("redirect"); r.RateLimit != 5000 || r.RateLimitKind != RateSmooth {
		t.Errorf("route = %+v", r)
	}
	if p.Events.Outbox || !p.Events.Dedup {
		t.Errorf("events = %+v", p.Events)
	}
	if l := p.Limits; l.Server.ReadHeaderTimeout.D() != 2*time.Second || l.Server.ReadTimeout.D() != 10*time.Second ||
		l.Server.WriteTimeout.D() != 15*time.Second || l.ConnectTimeout.D() != 2*time.Second || l.RedisTimeout.D() != time.Second {
		t.Errorf("limits = %+v", l)
	}
	if z := p.Edge("x->y"); z.Timeout != 0 || z.Retry != nil {
		t.Errorf("unknown edge = %+v, want zero", z)
	}
}

func TestLoadUnknown(t *testing.T) {
	if _, err := Load("nope"); err == nil || !strings.Contains(err.Error(), "built-in") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Load("/does/not/exist.yaml"); err == nil || !strings.HasPrefix(err.Error(), "profile: ") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range Builtins() {
		b, _ := os.ReadFile(filepath.Join("..", "..", "profiles", n+".yaml"))
		f.Add(b)
	}
	f.Add([]byte("name: x\nedges: {a->b: {timeout: -1s}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err == nil && p.Name == "" {
			t.Fatal("accepted a profile without a name")
		}
	})
}
