package systemtest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline/system/internal/config"
)

// UsageCases are bad invocations of a service, each with its flags (Args) and environment
// (Env). The element type is unnamed so that tables can stay positional.
type UsageCases = []struct {
	Name string
	Args []string
	Env  map[string]string
}

// RefusesUsage checks that run refuses every case with a usage error (config.ErrUsage).
func RefusesUsage(t *testing.T, run RunFunc, cases UsageCases) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var stderr SyncBuffer
			err := run(context.Background(), tc.Args, func(k string) string { return tc.Env[k] }, &stderr)
			if !errors.Is(err, config.ErrUsage) {
				t.Errorf("Run = %v, want a usage error\n%s", err, stderr.String())
			}
		})
	}
}

// Help checks that --help prints the usage (with the common flags) and returns nil or
// config.ErrHelp.
func Help(t *testing.T, run RunFunc) {
	t.Helper()
	var stderr SyncBuffer
	err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &stderr)
	if err != nil && !errors.Is(err, config.ErrHelp) {
		t.Errorf("Run --help = %v, want nil or ErrHelp", err)
	}
	if !strings.Contains(stderr.String(), "-listen") {
		t.Errorf("Run --help printed no usage of --listen:\n%s", stderr.String())
	}
}
