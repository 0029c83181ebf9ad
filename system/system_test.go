package system

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestComponents(t *testing.T) {
	want := "analytics billing gateway link nats redirect"
	if got := strings.Join(Components(), " "); got != want {
		t.Fatalf("components = %s, want %s", got, want)
	}
	for _, c := range Components() {
		if !strings.Contains(Help(), c) {
			t.Errorf("help lacks %s", c)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	env := func(string) string { return "" }
	cases := []struct {
		component string
		args      []string
		want      string
	}{
		{"nope", nil, `unknown component "nope"`},
		{"link", []string{"--bogus"}, "-bogus"},
		{"link", nil, "--database-url"},
		{"billing", []string{"--profile", "no-such-profile"}, "profile:"},
		{"nats", []string{"--listen", "x"}, "--listen"},
	}
	for _, tc := range cases {
		err := Run(context.Background(), tc.component, tc.args, env, io.Discard, io.Discard)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: err = %v, want usage error mentioning %q", tc.component, tc.args, err, tc.want)
		}
	}
	if err := Run(context.Background(), "billing", []string{"-h"}, env, io.Discard, io.Discard); err != nil {
		t.Errorf("help: %v", err)
	}
}
