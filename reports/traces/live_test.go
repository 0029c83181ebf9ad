package traces

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// The live index counts exactly what ServiceMap counts once every span of the window has
// arrived, whatever order and batches the spans came in and however often the view asked in
// between (each ask indexes the traces that got spans since the last one).
func TestLiveIndexIsServiceMap(t *testing.T) {
	r := loadReal(t)
	spans := append([]Span(nil), r.spans...)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(spans), func(i, j int) { spans[i], spans[j] = spans[j], spans[i] })
	x := NewLiveIndex()
	for len(spans) > 0 {
		n := min(len(spans), 1+rng.IntN(400))
		x.Add(spans[:n])
		spans = spans[n:]
		x.Map("now", r.Start, r.Start.Add(time.Hour)) // a refresh between batches
	}
	for _, w := range r.Phases {
		from := r.Start.Add(time.Duration(w.StartS * float64(time.Second)))
		to := r.Start.Add(time.Duration(w.EndS * float64(time.Second)))
		got, gotLast := x.Map(w.Name, from, to)
		win := []reports.PhaseWindow{w}
		want := ServiceMap(r.spans, win, r.Start)
		// ServiceMap lists every edge seen in any span; the live map those with a call in [from, to)
		kept := want[:0]
		for _, e := range want {
			if e.Phases[0].Calls > 0 {
				kept = append(kept, e)
			}
		}
		if len(got) == 0 || !reflect.DeepEqual(got, kept) {
			t.Errorf("%s: live map\n%+v\nservice map\n%+v", w.Name, got, kept)
		}
		ix := buildIndex(r.spans, win, r.Start)
		wantLast := map[string]time.Time{}
		for e, calls := range ix.edgeCalls {
			for _, i := range calls {
				if s := &ix.spans[i]; ix.phase[i] != "" && !ix.late[i] && s.Failed() && s.Start.After(wantLast[e]) {
					wantLast[e] = s.Start
				}
			}
		}
		if w.Name == reports.PhaseFault && len(wantLast) == 0 {
			t.Fatal("the fixture's fault phase has no failed call: the last-error check proves nothing")
		}
		if !reflect.DeepEqual(gotLast, wantLast) {
			t.Errorf("%s: last errors %v, want %v", w.Name, gotLast, wantLast)
		}
	}
	// forgetting: traces whose newest span started before t go, with their calls
	n := x.Traces()
	x.Forget(r.Start.Add(time.Duration(r.Phases[len(r.Phases)-1].StartS * float64(time.Second))))
	if x.Traces() == 0 || x.Traces() >= n {
		t.Errorf("forget kept %d of %d traces", x.Traces(), n)
	}
	if got, _ := x.Map("now", r.Start, r.Start.Add(time.Duration(r.Phases[0].EndS*float64(time.Second)))); len(got) != 0 {
		t.Errorf("forgotten calls still counted: %+v", got)
	}
}
