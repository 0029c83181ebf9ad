package redirect

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
		{"missing redis", nil, map[string]string{"LINK_URL": "http://a:1", "NATS_URL": "nats://a:2"}},
		{"bad redis addr", []string{"--redis-addr", "nohost"}, map[string]string{"LINK_URL": "http://a:1", "NATS_URL": "nats://a:2"}},
		{"zero click buffer", nil, map[string]string{"REDIS_ADDR": "127.0.0.1:1", "LINK_URL": "http://a:1", "NATS_URL": "nats://a:2", "CLICK_BUFFER": "0"}},
		{"non-numeric click buffer", nil, map[string]string{"REDIS_ADDR": "127.0.0.1:1", "LINK_URL": "http://a:1", "NATS_URL": "nats://a:2", "CLICK_BUFFER": "many"}},
		{"unknown profile", nil, map[string]string{"REDIS_ADDR": "127.0.0.1:1", "LINK_URL": "http://a:1", "NATS_URL": "nats://a:2", "RESILIENCE_PROFILE": "nosuch"}},
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
