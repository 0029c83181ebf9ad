package service

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPprofServesOnLoopbackAndWritesItsAddress(t *testing.T) {
	dir := t.TempDir()
	stop, err := startPprof("gateway", dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	addr, err := os.ReadFile(filepath.Join(dir, "gateway.addr"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(addr), "127.0.0.1:") {
		t.Errorf("pprof listens on %q, want loopback", addr)
	}
	resp, err := http.Get("http://" + string(addr) + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine") {
		t.Errorf("GET /debug/pprof/: %d %.80s", resp.StatusCode, b)
	}
}

func TestPprofOffWithoutDir(t *testing.T) {
	stop, err := startPprof("gateway", "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stop()
}

func TestPprofBadDirIsAnError(t *testing.T) {
	_, err := startPprof("gateway", filepath.Join(t.TempDir(), "missing"), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), PprofDirEnv) {
		t.Errorf("err = %v, want one naming %s", err, PprofDirEnv)
	}
}
