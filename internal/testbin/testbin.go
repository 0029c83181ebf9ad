// Package testbin builds the faultline binary once for tests that start real components.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	once sync.Once
	path string
	err  error
)

// Path returns a faultline binary: $FAULTLINE_BIN when set (CI builds it once), else one built
// from this module into a temp dir the first time it is asked for. The binary is left for the
// OS temp cleaner only when the test process dies; Cleanup removes it.
func Path() (string, error) {
	once.Do(func() {
		if p := os.Getenv("FAULTLINE_BIN"); p != "" {
			path, err = filepath.Abs(p)
			return
		}
		_, self, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(self), "..", "..")
		dir, mkErr := os.MkdirTemp("", "faultline-bin-")
		if mkErr != nil {
			err = mkErr
			return
		}
		path = filepath.Join(dir, "faultline")
		cmd := exec.Command("go", "build", "-o", path, "./cmd/faultline")
		cmd.Dir = root
		if out, buildErr := cmd.CombinedOutput(); buildErr != nil {
			err = fmt.Errorf("testbin: go build ./cmd/faultline: %v\n%s", buildErr, out)
			path = ""
		}
	})
	return path, err
}

// Cleanup removes a binary Path built (never $FAULTLINE_BIN); call it from TestMain.
func Cleanup() {
	if path != "" && os.Getenv("FAULTLINE_BIN") == "" {
		os.RemoveAll(filepath.Dir(path))
	}
}
