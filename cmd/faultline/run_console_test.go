package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline/lab/console"
)

func TestCheckConsole(t *testing.T) {
	tests := []struct {
		name  string
		o     runOptions
		other bool
		want  string // "" ok
	}{
		{"off", runOptions{consoleAddr: "10.0.0.1:1"}, true, ""},
		{"loopback", runOptions{console: true, consoleAddr: "127.0.0.1:0"}, false, ""},
		{"remote address", runOptions{console: true, consoleAddr: "0.0.0.0:8080"}, false, "not loopback"},
		{"other backend", runOptions{console: true, consoleAddr: "127.0.0.1:0"}, true, "process backend"},
		{"no port", runOptions{console: true, consoleAddr: "127.0.0.1"}, false, "address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkConsole(tt.o, tt.other)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			if tt.name == "remote address" && !errors.Is(err, console.ErrNotLoopback) {
				t.Errorf("error %v is not ErrNotLoopback", err)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
