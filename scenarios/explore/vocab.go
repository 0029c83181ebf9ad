package explore

import (
	"fmt"
	"time"

	rexplore "github.com/faultline/faultline/reports/explore"

	"github.com/faultline/faultline/system/policy"
	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// Fault classes of the vocabulary, as the plan and the report name them.
const (
	ClassBeyond    = "latency-beyond" // latency past the caller's timeout
	ClassGray      = "latency-gray"   // latency under it: a gray slowdown
	ClassBlackhole = "blackhole"      // partition: connections stay open, nothing flows either way
	ClassRefused   = "refused"        // the proxy disabled: connections refused, open ones dropped
	ClassReset     = "reset"          // connections reset at once
	ClassBandwidth = "bandwidth"      // bandwidth starvation
	ClassCrash     = "crash"          // SIGKILL, restarted when the fault ends
	ClassPause     = "pause"          // SIGSTOP, SIGCONT when the fault ends
)

// NoTimeoutLatency is the latency "beyond the timeout" and NoTimeoutGray the gray one on an
// edge whose caller has no timeout in the profile (the NATS edges, or a profile without
// timeouts): long enough that any sane timeout would have fired, and a clear slowdown. 3 s
// is beyond the publishers' own 2 s wait for a JetStream ack (system/internal/events
// AckTimeout, not in the profile): at 2 s an ack arrived as often as not just in time, so
// "beyond" did not reliably make a publisher give up and publish again (click-ack-lost.yaml
// uses 3 s for the same reason).
const (
	NoTimeoutLatency = 3 * time.Second
	NoTimeoutGray    = 250 * time.Millisecond
	// StarvedRate is the bandwidth left on a starved edge, KB/s: a 1 KB answer takes a second.
	StarvedRate = 1
)

// Fault is one fault of an experiment (the report's model: reports/explore).
type Fault = rexplore.Fault

// onComponent says whether the fault acts on a component (else on an edge).
func onComponent(f Fault) bool { return topology.IsComponent(f.Target) }

// Entry is one line of the vocabulary: a fault class, the registered fault type that
// injects it, and how its parameters follow from the profile for one target. Derive returns
// ok false when the class does not apply to the target.
type Entry struct {
	Class  string
	Type   string
	Edges  bool // applies to edges (else to components)
	Derive func(p *policy.Profile, target string) (params map[string]any, why string, ok bool)
}

// Vocabulary is the fault space per target. A fault type another package registers (a
// request-level http_error, a CPU hog) joins the search by one line here; a line whose type is
// not registered in this binary is skipped, so the table may run ahead of the registry.
var Vocabulary = []Entry{
	{ClassBeyond, "latency", true, beyond},
	{ClassGray, "latency", true, gray},
	{ClassMild, "latency", true, mild},
	{ClassBlackhole, "timeout", true, fixed(map[string]any{"timeout": "0s", "direction": "both"}, "a partition: open connections hang, nothing flows either way")},
	{ClassRefused, "partition", true, fixed(nil, "the proxy disabled: connections refused, open ones dropped")},
	{ClassReset, "reset_peer", true, fixed(map[string]any{"timeout": "0s"}, "every connection reset at once")},
	{ClassBandwidth, "bandwidth", true, fixed(map[string]any{"rate": StarvedRate}, fmt.Sprintf("%d KB/s left", StarvedRate))},
	{ClassCrash, "crash", false, fixed(nil, "SIGKILL, restarted when the fault ends")},
	{ClassPause, "pause", false, fixed(nil, "SIGSTOP, SIGCONT when the fault ends")},
	{ClassHTTPError, "http_error", true, httpError},
	{ClassHTTPTail, "http_latency", true, httpTail},
	{ClassHTTPReset, "http_reset", true, httpReset},
	{ClassHTTPPoison, "http_latency", true, httpPoison},
	{ClassCPU, "cpu", false, starvedCPU},
}

func fixed(params map[string]any, why string) func(*policy.Profile, string) (map[string]any, string, bool) {
	return func(*policy.Profile, string) (map[string]any, string, bool) { return params, why, true }
}

// callerTimeout is the timeout the profile puts on an edge's calls; 0 when none.
func callerTimeout(p *policy.Profile, edge string) time.Duration {
	return p.Edge(edge).Timeout.D()
}

func beyond(p *policy.Profile, edge string) (map[string]any, string, bool) {
	if t := callerTimeout(p, edge); t > 0 {
		d := wholeMs(t * 3 / 2)
		return map[string]any{"latency": d.String()}, fmt.Sprintf("1.5 × the caller's timeout %s", t), true
	}
	return map[string]any{"latency": NoTimeoutLatency.String()},
		fmt.Sprintf("no timeout on this edge in profile %s: a fixed %s", p.Name, NoTimeoutLatency), true
}

func gray(p *policy.Profile, edge string) (map[string]any, string, bool) {
	if t := callerTimeout(p, edge); t > 0 {
		d := wholeMs(t / 2)
		return map[string]any{"latency": d.String()}, fmt.Sprintf("0.5 × the caller's timeout %s: slow, never cut", t), true
	}
	return map[string]any{"latency": NoTimeoutGray.String()},
		fmt.Sprintf("no timeout on this edge in profile %s: a fixed %s", p.Name, NoTimeoutGray), true
}

// wholeMs rounds to whole milliseconds (Toxiproxy's unit), at least 1 ms.
func wholeMs(d time.Duration) time.Duration {
	return max(d.Round(time.Millisecond), time.Millisecond)
}

// Faults lists the vocabulary's faults for one target under profile p, in table order. A
// line whose type is not registered is skipped; one whose parameters the registry refuses is
// an error (the table is wrong, not the target).
func Faults(p *policy.Profile, target string) ([]Fault, error) {
	edge := topology.IsEdge(target)
	if !edge && !topology.IsComponent(target) {
		return nil, fmt.Errorf("explore: unknown target %q", target)
	}
	registered := map[string]bool{}
	for _, n := range toxics.Names() {
		registered[n] = true
	}
	var out []Fault
	for _, e := range Vocabulary {
		if e.Edges != edge || !registered[e.Type] {
			continue
		}
		params, why, ok := e.Derive(p, target)
		if !ok {
			continue
		}
		f := Fault{Class: e.Class, Type: e.Type, Target: target, Params: params, Why: why}
		if err := check(f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// check builds the fault with the registry's own decoder, so a plan never holds a fault the
// runner would refuse.
func check(f Fault) error {
	if _, err := toxics.New(f.Type, f.Params); err != nil {
		return fmt.Errorf("explore: vocabulary %s on %s: %w", f.Class, f.Target, err)
	}
	return nil
}

// Stateful says whether a crash of this component can lose what a later experiment would
// rely on (a store's data, the JetStream stream): the next experiment needs a fresh system.
func Stateful(f Fault) bool {
	if f.Class != ClassCrash {
		return false
	}
	k := topology.KindOf(f.Target)
	return k == topology.KindPostgres || k == topology.KindRedis || k == topology.KindNATS
}
