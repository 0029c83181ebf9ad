// Package percentile computes exact nearest-rank percentiles, the one definition every
// figure of the lab uses (SLOs, stream and edge figures, retry gaps, charts, the bench).
package percentile

import (
	"cmp"
	"math"
)

// Of is the exact nearest-rank p-th percentile (p in 0..100) of ascending values: the
// smallest value such that at least p% of values are ≤ it (rank ⌈p/100·n⌉). No
// interpolation, so the value reported always happened. It returns the zero value for no
// values.
func Of[T cmp.Ordered](sorted []T, p float64) T {
	return Quantile(sorted, p/100)
}

// Quantile is Of with q as a fraction (0..1): rank ⌈q·n⌉, clamped to 1..n, so q ≤ 0 gives
// the smallest value and q ≥ 1 the largest.
func Quantile[T cmp.Ordered](sorted []T, q float64) T {
	n := len(sorted)
	if n == 0 {
		var zero T
		return zero
	}
	rank := int(math.Ceil(q * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}
