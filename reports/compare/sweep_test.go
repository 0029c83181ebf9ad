package compare

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

func TestSweepProfiles(t *testing.T) {
	dir := t.TempDir()
	vs, err := SweepProfiles("circuit_breaker.failure_ratio", []string{"0.3", "0.8"}, "redirect->link", "default", dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Label != "circuit_breaker.failure_ratio=0.3" {
		t.Fatalf("variants = %+v", vs)
	}
	raw, err := os.ReadFile(vs[1].Profile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	edges := doc["edges"].(map[string]any)
	got := edges["redirect->link"].(map[string]any)["circuit_breaker"].(map[string]any)["failure_ratio"]
	if got != 0.8 {
		t.Errorf("redirect->link failure_ratio = %v (%T), want 0.8", got, got)
	}
	other := edges["gateway->link"].(map[string]any)["circuit_breaker"].(map[string]any)["failure_ratio"]
	if other == 0.8 {
		t.Error("--edge leaked to another edge")
	}
	if !strings.HasPrefix(doc["name"].(string), "default-circuit_breaker.failure_ratio-0.8") {
		t.Errorf("name = %v", doc["name"])
	}

	// Without --edge every edge with a breaker gets the value.
	vs, err = SweepProfiles("circuit_breaker.delay", []string{"5s"}, "", "default", dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(vs[0].Profile)
	if n := strings.Count(string(raw), "delay: 5s"); n < 3 {
		t.Errorf("delay set on %d edges, want every edge with a breaker:\n%s", n, raw)
	}

	for _, c := range []struct {
		name       string
		param      string
		values     []string
		edge, base string
		want       string
	}{
		{"no values", "circuit_breaker.failure_ratio", nil, "", "default", "needs a parameter and values"},
		{"unknown edge", "circuit_breaker.failure_ratio", []string{"0.3"}, "nope->x", "default", "no edge"},
		{"no edge has it", "nonexistent_policy.x", []string{"1"}, "", "default", "no edge of the profile has"},
		{"no base", "x", []string{"1"}, "", "no-such-profile", "neither a file nor a built-in"},
	} {
		_, err := SweepProfiles(c.param, c.values, c.edge, c.base, dir)
		if !errors.Is(err, ErrSweep) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: SweepProfiles = %v, want ErrSweep with %q", c.name, err, c.want)
		}
	}
}

func TestVariantRunDir(t *testing.T) {
	for _, c := range []struct{ label, want string }{
		{"default", "out/runs/default-2"},
		{"circuit_breaker.failure_ratio=0.3", "out/runs/circuit_breaker.failure_ratio=0.3-2"},
		{"x/../y z", "out/runs/x_.._y_z-2"},
		{"", "out/runs/run-2"},
	} {
		if got := (Variant{Label: c.label}).RunDir("out", 2); got != c.want {
			t.Errorf("RunDir(%q) = %q, want %q", c.label, got, c.want)
		}
	}
}
