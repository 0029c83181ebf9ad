package traces

import (
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// The adaptive policies' refusals and hedges are counted per edge from the pipeline spans, and
// fault-phase attempts count each (call, attempt number) once, however many statements it
// wrote; an attempt outside the fault phase is not counted.
func TestAdaptiveMechanisms(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	id := func(b byte) SpanID { return SpanID{b} }
	tr := TraceID{1}
	pipe := func(sid byte, s float64, attrs ...Attr) Span {
		return Span{TraceID: tr, SpanID: id(sid), Service: "redirect", Name: "resilience redirect->link", Kind: KindInternal, Start: at(s), End: at(s + 0.01),
			Attrs: append(Attrs{{AttrEdge, "redirect->link"}}, attrs...)}
	}
	attempt := func(sid, parent byte, n string, s float64) Span {
		return Span{TraceID: tr, SpanID: id(sid), ParentSpanID: id(parent), Service: "redirect", Name: "GET link", Kind: KindClient, Start: at(s), End: at(s + 0.005),
			Attrs: Attrs{{AttrEdge, "redirect->link"}, {AttrAttempt, n}, {AttrPeerService, "link"}}}
	}
	spans := []Span{
		pipe(1, 12, Attr{AttrHedges, "1"}), attempt(11, 1, "1", 12), attempt(12, 1, "2", 12.03),
		pipe(2, 13, Attr{AttrThrottled, "true"}),
		pipe(3, 14, Attr{AttrLimiterRejected, "true"}, Attr{AttrBudgetExceeded, "true"}), attempt(31, 3, "1", 14), attempt(32, 3, "1", 14.001),
		pipe(4, 2), attempt(41, 4, "1", 2), // baseline
	}
	phases := []reports.PhaseWindow{{Name: "baseline", EndS: 10}, {Name: "fault", StartS: 10, EndS: 20}}
	m := Mechanisms(spans, phases, start, nil, nil)
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"hedges", m.Hedges["redirect->link"], 1},
		{"throttled", m.Throttled["redirect->link"], 1},
		{"limiter rejections", m.LimiterRejections["redirect->link"], 1},
		{"budget exceeded", m.BudgetExceeded["redirect->link"], 1},
		{"fault attempts", m.FaultAttempts["redirect->link"], 3}, // call 1: attempts 1 and 2; call 3: attempt 1 (two spans)
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}
