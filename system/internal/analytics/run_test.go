package analytics

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/faultline/faultline/system/internal/config"
)

func TestRunRefusesBadUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"missing database", nil, map[string]string{"NATS_URL": "nats://a:2"}},
		{"missing nats", nil, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/db"}},
		{"unknown flag", []string{"--nope"}, map[string]string{}},
		{"unknown profile", nil, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/db", "NATS_URL": "nats://a:2", "RESILIENCE_PROFILE": "nosuch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if !errors.Is(err, config.ErrUsage) {
				t.Errorf("Run = %v, want a usage error", err)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	err := Run(context.Background(), []string{"--help"}, func(string) string { return "" }, io.Discard)
	if err != nil && !errors.Is(err, config.ErrHelp) {
		t.Errorf("Run --help = %v, want nil or ErrHelp", err)
	}
}
