package httptoxic

import "sync"

// maxRememberedPaths bounds a by_path toxic's memory of the paths it has seen; past it, new
// paths are picked by their hash alone (ChosenPath), which keeps the share only on average.
const maxRememberedPaths = 1 << 20

// pathPicker picks exactly a share of the distinct paths it sees, in the order it first sees
// them: the k-th new path is picked when the running quota ⌊k·share + u⌋ steps (u seeded), so
// after K paths ⌊K·share⌋ or ⌈K·share⌉ are picked. A hash of the path alone picks a binomial
// number of them — 16 ± 4 of 400 at 4 % — so a run's poison keys would be fewer or more than
// its scenario says, by the luck of the codes the system created in that run.
type pathPicker struct {
	mu     sync.Mutex
	picked map[string]bool
	n      uint64 // distinct paths remembered
	hits   uint64 // of those, picked
}

// pick says whether requests for path are affected; the same answer for every request of it.
func (p *pathPicker) pick(seed int64, path string, share float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.picked[path]; ok {
		return v
	}
	if p.n >= maxRememberedPaths {
		return ChosenPath(seed, path, share)
	}
	if p.picked == nil {
		p.picked = map[string]bool{}
	}
	u := unit(seed, 0, 3)
	v := quota(p.n+1, share, u) > quota(p.n, share, u)
	p.picked[path] = v
	p.n++
	if v {
		p.hits++
	}
	return v
}

// seen is how many distinct paths were remembered and how many of them were picked.
func (p *pathPicker) seen() (paths, picked int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(p.n), int64(p.hits)
}

func quota(k uint64, share, u float64) uint64 {
	if share >= 1 {
		return k
	}
	return uint64(float64(k)*share + u)
}
