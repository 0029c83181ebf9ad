package testbin

import (
	"os"
	"testing"

	"github.com/faultline/faultline/internal/localserver"
)

// NeedSystem returns the faultline binary for a test that starts the whole system. It skips
// under -short, and when PostgreSQL or Redis is not installed it skips, or fails on CI
// (CI=true), where a skip would hide the test.
func NeedSystem(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	for _, find := range []func() (string, error){localserver.PostgresBinDir, localserver.RedisBinary} {
		if _, err := find(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%v (run make deps)", err)
			}
			t.Skip(err)
		}
	}
	bin, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
