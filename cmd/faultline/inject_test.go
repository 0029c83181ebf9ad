package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestParseParams(t *testing.T) {
	tests := []struct {
		name    string
		words   []string
		want    map[string]any
		wantErr bool
	}{
		{"none", nil, map[string]any{}, false},
		{"typed", []string{"rate=64", "toxicity=0.5", "latency=100ms", "x=true"},
			map[string]any{"rate": int64(64), "toxicity": 0.5, "latency": "100ms", "x": true}, false},
		{"value with =", []string{"a=b=c"}, map[string]any{"a": "b=c"}, false},
		{"no =", []string{"latency"}, nil, true},
		{"empty key", []string{"=1"}, nil, true},
		{"twice", []string{"a=1", "a=2"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseParams(tt.words)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func FuzzParseParams(f *testing.F) {
	f.Add("latency=100ms", "jitter=5")
	f.Add("=", "a==")
	f.Fuzz(func(t *testing.T, a, b string) {
		_, _ = parseParams([]string{a, b})
	})
}

// TestInjectRefusesNoOpFaults: inject checks parameters with the same code as validate, before
// it looks for a lab, so a fault that would do nothing (or become a blackhole) never reaches
// Toxiproxy.
func TestInjectRefusesNoOpFaults(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inject", "link->link-db", "latency", "latency=0.5"}, "latency 500µs: expected whole milliseconds"},
		{[]string{"inject", "link->link-db", "timeout", "timeout=500us"}, "a blackhole that never times out"},
		{[]string{"inject", "link->link-db", "latency", "latency=100ms", "toxicity=0"}, "toxicity 0"},
	} {
		var out, errOut bytes.Buffer
		// An empty state dir: should a refusal regress, no running lab is ever touched.
		args := append(c.args, "--state-dir", t.TempDir())
		code := run(context.Background(), args, &out, &errOut)
		if code != exitUsage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut.String(), exitUsage, c.want)
		}
	}
}
