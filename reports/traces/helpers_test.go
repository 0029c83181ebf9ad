package traces

import (
	"time"

	"github.com/faultline/faultline/reports"
)

// twoPhases is a run of 10 s baseline then 10 s fault.
var twoPhases = []reports.PhaseWindow{
	{Name: reports.PhaseBaseline, StartS: 0, EndS: 10},
	{Name: reports.PhaseFault, StartS: 10, EndS: 20},
}

// hop describes calls from a caller service to a callee, per phase.
type hop struct {
	caller, callee string
	n              int // calls per phase
	nFault         int // calls in the fault phase when not n
	base, fault    shape
}

// shape is how the calls of one phase look.
type shape struct {
	callerMs, calleeMs float64 // server span durations
	callerErr          bool    // caller server span fails (5xx)
	clientErr          bool    // client span fails
	clientAttrs        Attrs   // extra attributes on the caller's client spans
	serverAttrs        Attrs   // extra attributes on the caller's server spans
}

// build writes n traces per phase: caller SERVER → caller CLIENT (edge caller->callee) →
// callee SERVER. The gateway's server spans are roots, so they also feed client->gateway.
func (h hop) build(g *gen) {
	for phase, sh := range []shape{h.base, h.fault} {
		n := h.n
		if phase == 1 && h.nFault > 0 {
			n = h.nFault
		}
		for i := range n {
			start := fixtureStart.Add(time.Duration(phase)*10*time.Second + time.Duration(i)*(10*time.Second/time.Duration(n)))
			tr := g.newTrace()
			cs, cc, ss := g.newSpan(), g.newSpan(), g.newSpan()
			d := time.Duration(sh.calleeMs * float64(time.Millisecond))
			g.add(tr, ss, cc, h.callee, "GET /x", KindServer, start, start.Add(d), false, kv(AttrStatusCode, "200"))
			ca := append(kv(AttrPeerService, h.callee, AttrEdge, h.caller+"->"+h.callee), sh.clientAttrs...)
			if sh.clientErr {
				ca = append(ca, Attr{AttrStatusCode, "503"})
			}
			g.add(tr, cc, cs, h.caller, "GET", KindClient, start, start.Add(d), sh.clientErr, ca)
			code := "200"
			if sh.callerErr {
				code = "500"
			}
			cd := time.Duration(sh.callerMs * float64(time.Millisecond))
			g.add(tr, cs, SpanID{}, h.caller, "GET /y", KindServer, start, start.Add(cd), sh.callerErr,
				append(kv(AttrStatusCode, code), sh.serverAttrs...))
		}
	}
}

func newGen() *gen { return &gen{state: BreakerClosed} }
