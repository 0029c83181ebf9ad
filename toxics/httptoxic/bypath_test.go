package httptoxic

import (
	"fmt"
	"math"
	"net/http"
	"testing"
)

// TestByPathPicksKeysNotRequests: with by_path, every request for a picked path fails, its
// repeats too (what a retry of a poison key meets), the others never do, and the paths picked
// are exactly the asked share of the distinct paths (pathPicker's, in the order first seen).
func TestByPathPicksKeysNotRequests(t *testing.T) {
	const paths, repeats, share, seed = 400, 3, 0.2, 7
	l := newLab(t, http.HandlerFunc(hello))
	if _, err := Add(l.proxy, TypeError, unique("p"), Attrs{Status: 503, Share: share, Seed: seed, ByPath: true}); err != nil {
		t.Fatal(err)
	}
	c := keepAliveClient(t)
	picked := 0
	var model pathPicker
	for i := range paths {
		p := fmt.Sprintf("/links/k%d", i)
		want := model.pick(seed, p, share)
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
	if want := paths * share; math.Abs(float64(picked)-want) >= 1 {
		t.Errorf("paths picked: %d of %d, want %v: the asked share exactly", picked, paths, want)
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

// TestPathPickerPicksTheShareExactly: after any number K of distinct paths, ⌊K·share⌋ or
// ⌈K·share⌉ are picked, a path seen again keeps its answer, and another seed picks others.
func TestPathPickerPicksTheShareExactly(t *testing.T) {
	for _, share := range []float64{0, 0.0005, 0.04, 0.1, 1.0 / 3, 0.5, 0.97, 1} {
		for seed := int64(1); seed <= 5; seed++ {
			var p pathPicker
			picked := 0
			for k := 1; k <= 2000; k++ {
				path := fmt.Sprintf("/r/c%d", k)
				v := p.pick(seed, path, share)
				if v {
					picked++
				}
				if p.pick(seed, path, share) != v {
					t.Fatalf("share %v seed %d: %s answered twice differently", share, seed, path)
				}
				if want := float64(k) * share; float64(picked) < math.Floor(want) || float64(picked) > math.Ceil(want) {
					t.Fatalf("share %v seed %d: %d of %d paths picked, want %v rounded either way", share, seed, picked, k, want)
				}
			}
			if n, h := p.seen(); n != 2000 || h != int64(picked) {
				t.Errorf("share %v seed %d: seen() = %d, %d; want 2000, %d", share, seed, n, h, picked)
			}
		}
	}
	var a, b pathPicker
	same := 0
	for k := range 1000 {
		path := fmt.Sprintf("/r/c%d", k)
		if a.pick(1, path, 0.1) && b.pick(2, path, 0.1) {
			same++
		}
	}
	if same == 100 {
		t.Errorf("seeds 1 and 2 picked the same 100 of 1000 paths: another seed must pick others")
	}
}
