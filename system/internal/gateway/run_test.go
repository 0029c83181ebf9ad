package gateway

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
		{"missing urls", nil, map[string]string{}},
		{"bad url", []string{"--redirect-url", "ftp://x", "--link-url", "http://a:1", "--analytics-url", "http://b:2"}, map[string]string{}},
		{"unknown profile", nil, map[string]string{"REDIRECT_URL": "http://a:1", "LINK_URL": "http://a:2", "ANALYTICS_URL": "http://a:3", "RESILIENCE_PROFILE": "nosuch"}},
		{"bad log format", nil, map[string]string{"REDIRECT_URL": "http://a:1", "LINK_URL": "http://a:2", "ANALYTICS_URL": "http://a:3", "LOG_FORMAT": "xml"}},
		{"positional argument", []string{"extra"}, map[string]string{}},
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
