package explore

import (
	"slices"
	"testing"

	"github.com/faultline/faultline/system/topology"
)

// The partial faults of issue 15 are in the search: the request-level ones on every HTTP edge
// (never on a Redis, NATS or PostgreSQL edge, where they would parse nothing and not land),
// the CPU starvation on every component, each with the registry's own validation.
func TestVocabularyHasPartialFaults(t *testing.T) {
	p := profile(t, "default")
	for _, e := range topology.Edges() {
		fs, err := Faults(p, e.Name)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, f := range fs {
			types = append(types, f.Type)
		}
		for _, typ := range []string{"http_error", "http_latency", "http_reset"} {
			if got, want := slices.Contains(types, typ), e.Protocol == topology.HTTP; got != want {
				t.Errorf("%s (%s): %s in the vocabulary = %v, want %v", e.Name, e.Protocol, typ, got, want)
			}
		}
	}
	for _, c := range topology.Components() {
		fs, err := Faults(p, c)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(fs, func(f Fault) bool { return f.Class == ClassCPU && f.Type == "cpu" }) {
			t.Errorf("%s: no cpu fault in the vocabulary: %v", c, fs)
		}
	}
	cases := []struct{ target, class, params, why string }{
		{"redirect->link", ClassHTTPError, "share=0.2 status=503", "20 % of requests answered 503 by the proxy (the callee never sees them)"},
		// redirect->link: timeout 200ms in default.yaml
		{"redirect->link", ClassHTTPTail, "latency=300ms share=0.02", "2 % of requests held: 1.5 × the caller's timeout 200ms"},
		{"gateway->link", ClassHTTPReset, "share=0.05", "5 % of responses cut mid-body, connection closed"},
		{"link", ClassCPU, "share=0.1", "10 % of one CPU left (cgroup quota or stop/continue)"},
	}
	for _, c := range cases {
		fs, _ := Faults(p, c.target)
		i := slices.IndexFunc(fs, func(f Fault) bool { return f.Class == c.class })
		if i < 0 {
			t.Errorf("%s on %s: not in the vocabulary", c.class, c.target)
			continue
		}
		if got := fs[i].ParamText(); got != c.params {
			t.Errorf("%s on %s: params %q, want %q", c.class, c.target, got, c.params)
		}
		if fs[i].Why != c.why {
			t.Errorf("%s on %s: why %q, want %q", c.class, c.target, fs[i].Why, c.why)
		}
	}
}

// A starved caller still calls: a cpu fault on a component does not prune the faults on its
// outgoing edges as "below a failed caller" (a crash or a pause does).
func TestCPUCallerIsNotAFailedCaller(t *testing.T) {
	cpu := Fault{Class: ClassCPU, Type: "cpu", Target: "link"}
	pause := Fault{Class: ClassPause, Type: "pause", Target: "link"}
	edge := Fault{Class: ClassHTTPError, Type: "http_error", Target: "link->billing"}
	if below(cpu, edge) {
		t.Error("an edge fault below a CPU-starved caller was pruned")
	}
	if !below(pause, edge) {
		t.Error("an edge fault below a paused caller was kept")
	}
}
