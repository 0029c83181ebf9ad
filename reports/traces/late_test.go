package traces

import (
	"slices"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// lateRun: redirect calls link, link queries link-db, 100 requests a phase (twoPhases). In the
// fault phase, every fifth request is held as the case says. late: held 150 ms on its way to
// link, after redirect had its answer 25 ms in (a hedge won), so link starts it with its
// context cancelled and its query fails at once. slowDB: delivered on time, but link-db takes
// 300 ms and the query fails while redirect still waits (then gives up at 200 ms).
func lateRun(late bool) []Span { return lateRunEvery(late, 5) }

// lateRunEvery is lateRun with every nth fault-phase request held.
func lateRunEvery(late bool, nth int) []Span {
	g := newGen()
	for phase := range 2 {
		for i := range 100 {
			start := fixtureStart.Add(time.Duration(phase)*10*time.Second + time.Duration(i)*100*time.Millisecond)
			tr := g.newTrace()
			rs, rc, ls, lc := g.newSpan(), g.newSpan(), g.newSpan(), g.newSpan()
			held := phase == 1 && i%nth == 0
			callerEnd, linkStart, dbMs, failed := start.Add(3*time.Millisecond), start.Add(500*time.Microsecond), 1.0, false
			switch {
			case held && late:
				callerEnd, linkStart, dbMs, failed = start.Add(25*time.Millisecond), start.Add(150*time.Millisecond), 0.2, true
			case held:
				callerEnd, dbMs, failed = start.Add(200*time.Millisecond), 300, true
			}
			dbEnd := linkStart.Add(time.Duration(dbMs * float64(time.Millisecond)))
			g.add(tr, rs, SpanID{}, "redirect", "GET /r/{code}", KindServer, start, callerEnd.Add(time.Millisecond), false, kv(AttrStatusCode, "302"))
			g.add(tr, rc, rs, "redirect", "GET link", KindClient, start, callerEnd, held && !late, kv(AttrPeerService, "link", AttrEdge, "redirect->link"))
			g.add(tr, ls, rc, "link", "GET /links/{code}", KindServer, linkStart, dbEnd.Add(100*time.Microsecond), failed, kv(AttrStatusCode, "200"))
			g.add(tr, lc, ls, "link", "SELECT links", KindClient, linkStart.Add(50*time.Microsecond), dbEnd, failed,
				kv(AttrPeerService, "link-db", AttrEdge, "link->link-db"))
		}
	}
	return g.spans
}

// TestLateDeliveryIsNoHarm: a request that reached its service after the caller had given up
// (held in the network) makes neither that service nor anything it called affected, and is
// counted; a callee that fails requests still awaited stays affected.
func TestLateDeliveryIsNoHarm(t *testing.T) {
	th := reports.BlastThresholds{}
	br := BlastRadius(lateRun(true), twoPhases, fixtureStart, []string{"redirect->link"}, th, nil)
	if slices.Contains(br.AffectedServices, "link-db") || slices.Contains(br.AffectedServices, "link") {
		t.Errorf("late deliveries made %v affected", br.AffectedServices)
	}
	if br.LateDeliveries != 20 {
		t.Errorf("late deliveries = %d, want the 20 held requests", br.LateDeliveries)
	}
	br = BlastRadius(lateRun(false), twoPhases, fixtureStart, []string{"redirect->link"}, th, nil)
	if !slices.Contains(br.AffectedServices, "link-db") || br.LateDeliveries != 0 {
		t.Errorf("on-time requests failing at link-db: affected %v, late %d; want link-db affected, none late",
			br.AffectedServices, br.LateDeliveries)
	}
}

// TestAllLateIsUnproven: the false pass the rule could admit — a service whose every
// fault-phase request arrived late shows no fault-phase call at all, and must then be
// unproven (an expectation on it fails as no data), never "not affected".
func TestAllLateIsUnproven(t *testing.T) {
	br := BlastRadius(lateRunEvery(true, 1), twoPhases, fixtureStart, []string{"redirect->link"}, reports.BlastThresholds{}, nil)
	if !slices.Contains(br.UnprovenServices, "link-db") || !slices.Contains(br.UnprovenServices, "link") {
		t.Errorf("every request late: unproven %v, affected %v; want link and link-db unproven", br.UnprovenServices, br.AffectedServices)
	}
	if br.LateDeliveries != 99 { // the last one reached link after the fault phase ended
		t.Errorf("late deliveries = %d, want 99", br.LateDeliveries)
	}
}
