package traces

import (
	"testing"

	"github.com/faultline/faultline/reports"
)

// What the judge's tests (judge_test.go, package traces_test: reports/verdict judges what this
// package computes, and imports it) need of this package's fixtures.
var (
	FixtureStart  = fixtureStart
	FixturePhases = fixturePhases
	FixtureFaults = fixtureFaults
	TwoPhases     = twoPhases
)

// LoadFixture reads the link-db-latency spans.
func LoadFixture(t testing.TB) []Span { return loadFixture(t) }

// UnprovenRadius is a blast radius where b is the origin, gateway calls it (and fails in the
// fault when gatewayFails), and c served 40 calls in the baseline but only 3 in the fault:
// c is unproven, as is d, which only c calls.
func UnprovenRadius(gatewayFails bool) *reports.BlastRadius {
	g := newGen()
	hop{caller: "gateway", callee: "b", n: 40, base: shape{callerMs: 5, calleeMs: 1},
		fault: shape{callerMs: 5, calleeMs: 1, callerErr: gatewayFails}}.build(g)
	hop{caller: "c", callee: "d", n: 40, nFault: 3, base: shape{callerMs: 5, calleeMs: 1}, fault: shape{callerMs: 5, calleeMs: 1}}.build(g)
	return BlastRadius(g.spans, twoPhases, fixtureStart, []string{"b"}, reports.BlastThresholds{}, nil)
}

// QuietCallerRadius is a blast radius where b is the origin and c served 5 calls in the
// baseline and nFault in the fault, all failing.
func QuietCallerRadius(nFault int) *reports.BlastRadius {
	g := newGen()
	hop{caller: "gateway", callee: "b", n: 40, base: shape{callerMs: 5, calleeMs: 1}, fault: shape{callerMs: 5, calleeMs: 1}}.build(g)
	hop{caller: "c", callee: "d", n: 5, nFault: nFault, base: shape{callerMs: 5, calleeMs: 1}, fault: shape{callerMs: 5, calleeMs: 1, callerErr: true}}.build(g)
	return BlastRadius(g.spans, twoPhases, fixtureStart, []string{"b"}, reports.BlastThresholds{}, nil)
}

// StormMechanisms is the mechanisms of 40 calls on edge, call i retrying retries[i] times
// (counted from resilience.retries when withAttr, else from the attempts).
func StormMechanisms(edge string, retries map[int]int, withAttr bool) *reports.Mechanisms {
	g := newGen()
	retryStorm(g, edge, 40, retries, 0, withAttr)
	return Mechanisms(g.spans, twoPhases, fixtureStart, nil, nil)
}

// RealRun is the blast radius (origin link->link-db) and mechanisms of the real fixture.
func RealRun(t testing.TB) (*reports.BlastRadius, *reports.Mechanisms) {
	r := loadReal(t)
	return BlastRadius(r.spans, r.Phases, r.Start, []string{"link->link-db"}, reports.BlastThresholds{}, nil),
		Mechanisms(r.spans, r.Phases, r.Start, r.Faults, nil)
}
