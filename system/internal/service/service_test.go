package service

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/systemtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseAndRunRefuseBadUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"unknown flag", []string{"--nope"}, nil},
		{"positional argument", []string{"x"}, nil},
		{"bad log format", nil, map[string]string{"LOG_FORMAT": "xml"}},
		{"unknown profile", []string{"--profile", "nosuch"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("svc", env(tt.env), io.Discard)
			err := s.Parse(tt.args)
			if err == nil {
				err = s.Run(context.Background(), func(context.Context, *Env) error {
					t.Fatal("body ran despite bad usage")
					return nil
				})
			}
			if !errors.Is(err, config.ErrUsage) {
				t.Errorf("err = %v, want a usage error", err)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stderr bytes.Buffer
	s := New("svc", nil, &stderr)
	config.String(s.Flags, "own", "OWN", "", "a service's own flag")
	if err := s.Parse([]string{"-h"}); !errors.Is(err, config.ErrHelp) {
		t.Fatalf("Parse -h = %v, want ErrHelp", err)
	}
	for _, f := range []string{"-listen", "-profile", "-log-format", "-own"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("usage lacks %s:\n%s", f, stderr.String())
		}
	}
}

// Run hands the body a logger, the profile and telemetry; Serve listens on --listen, logs
// "serving" with the extra attributes and drains when ctx ends.
func TestRunServesUntilCancelled(t *testing.T) {
	var logs systemtest.SyncBuffer
	s := New("svc", env(map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "LOG_FORMAT": "text", "RESILIENCE_PROFILE": "no-dedup"}), &logs)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- s.Run(ctx, func(ctx context.Context, env *Env) error {
			if env.Logger == nil || env.Tel == nil || env.Profile.Name != "no-dedup" {
				t.Errorf("env = %+v", env)
			}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hi") })
			served <- "started"
			return env.Serve(ctx, h, "extra", 42)
		})
	}()
	<-served
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "svc: serving") {
		if time.Now().After(deadline) {
			t.Fatalf("no serving line in logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run = %v, want nil after a clean drain", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	line := logs.String()
	for _, want := range []string{"service=svc", "profile=no-dedup", "extra=42", "addr=127.0.0.1:"} {
		if !strings.Contains(line, want) {
			t.Errorf("serving line lacks %s:\n%s", want, line)
		}
	}
}

func TestServeListenErrorIsReturned(t *testing.T) {
	s := New("svc", env(map[string]string{"LISTEN_ADDR": "256.0.0.1:1"}), io.Discard)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	err := s.Run(context.Background(), func(ctx context.Context, env *Env) error {
		return env.Serve(ctx, http.NotFoundHandler())
	})
	if err == nil || !strings.HasPrefix(err.Error(), "svc: ") {
		t.Fatalf("Run = %v, want the listen error prefixed with the service name", err)
	}
}
