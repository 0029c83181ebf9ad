package httptoxic

import (
	"fmt"
	"math"
	"net/http"
	"testing"
)

// TestByPathPicksKeysNotRequests: with by_path, every request for a picked path fails, its
// repeats too (what a retry of a poison key meets), the others never do, and the paths picked
// are ChosenPath's, so a share of distinct paths is affected whatever their order.
func TestByPathPicksKeysNotRequests(t *testing.T) {
	const paths, repeats, share, seed = 400, 3, 0.2, 7
	l := newLab(t, http.HandlerFunc(hello))
	if _, err := Add(l.proxy, TypeError, unique("p"), Attrs{Status: 503, Share: share, Seed: seed, ByPath: true}); err != nil {
		t.Fatal(err)
	}
	c := keepAliveClient(t)
	picked := 0
	for i := range paths {
		p := fmt.Sprintf("/links/k%d", i)
		want := ChosenPath(seed, p, share)
		if want {
			picked++
		}
		for r := range repeats {
			code, _, _ := get(t, c, "http://"+l.addr+p)
			if got := code == 503; got != want {
				t.Fatalf("%s, request %d of %d: failed %v, want %v for every request of the path", p, r+1, repeats, got, want)
			}
		}
	}
	sd := math.Sqrt(paths * share * (1 - share))
	if math.Abs(float64(picked)-paths*share) > 4*sd {
		t.Errorf("paths picked: %d of %d, want %v ± %.0f (4 sd)", picked, paths, paths*share, 4*sd)
	}
	if got := l.hits.Load(); got != int64((paths-picked)*repeats) {
		t.Errorf("upstream saw %d requests, want %d", got, (paths-picked)*repeats)
	}
}

func TestChosenPathDependsOnSeedAndPath(t *testing.T) {
	same, n := 0, 1000
	for i := range n {
		p := fmt.Sprintf("/links/k%d", i)
		if ChosenPath(1, p, 0.5) != ChosenPath(1, p, 0.5) {
			t.Fatalf("%s: two answers for one path and seed", p)
		}
		if ChosenPath(1, p, 0.5) == ChosenPath(2, p, 0.5) {
			same++
		}
	}
	if same > n*6/10 || same < n*4/10 {
		t.Errorf("seeds 1 and 2 agree on %d of %d paths at share 0.5: want about half (another seed, another pattern)", same, n)
	}
}
