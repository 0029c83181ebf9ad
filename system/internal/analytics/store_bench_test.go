package analytics

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkApply: one click applied to a real PostgreSQL (systemtest), one at a time: the
// consumer's cost per event in the store, round trips included.
func BenchmarkApply(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Apply(ctx, Record{ID: fmt.Sprintf("bench-%d", i), Subject: "clicks.recorded", Kind: KindClick, Code: fmt.Sprintf("c%d", i%200)}); err != nil {
			b.Fatal(err)
		}
	}
}
