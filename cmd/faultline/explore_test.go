package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// Bad --group and --only values are the caller's mistake: exit 2 before anything starts.
func TestExploreBadFlags(t *testing.T) {
	cases := []struct {
		name string
		o    exploreOptions
		want string
	}{
		{"group 0", exploreOptions{group: 0}, "--group 0"},
		{"only without a target", exploreOptions{group: 1, only: []string{"refused"}}, "want class@target"},
		{"only with an unknown class", exploreOptions{group: 1, only: []string{"nope@link->billing"}}, "unknown fault class"},
		{"only with three faults", exploreOptions{group: 1, only: []string{"refused@redis+pause@redis+crash@link"}}, "at most two"},
	}
	for _, c := range cases {
		err := runExplore(context.Background(), io.Discard, nil, c.o)
		var u usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a usage error with %q", c.name, err, c.want)
		}
	}
}

// --dry-run --only plans exactly the experiments named.
func TestExploreDryRunOnly(t *testing.T) {
	var b strings.Builder
	err := runExplore(context.Background(), &b, nil, exploreOptions{group: 1, dryRun: true, seed: 1, out: t.TempDir(),
		only: []string{"refused@link->billing", "latency-beyond@redirect->link+refused@redirect->redis"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "planned: 2 (1 singles, 1 pairs)") {
		t.Errorf("dry run:\n%s", b.String())
	}
}
