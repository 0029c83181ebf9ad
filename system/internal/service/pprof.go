package service

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"
)

// PprofDirEnv names a directory: when set, the service serves net/http/pprof on a loopback
// port of its own and writes that address to DIR/<service>.addr, so a benchmark can take CPU
// profiles of every process under load (lab/hotpath). Never on the service's own listener:
// the gateway's is the public entry.
const PprofDirEnv = "FAULTLINE_PPROF_DIR"

// startPprof serves the profiling endpoints on 127.0.0.1 until stop is called. It does nothing when
// dir is empty.
func startPprof(name, dir string, logger *slog.Logger) (stop func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%s: pprof listener: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".addr"), []byte(ln.Addr().String()), 0o644); err != nil {
		ln.Close()
		return nil, fmt.Errorf("%s: %s: %w", name, PprofDirEnv, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn(name+": pprof server", "err", err)
		}
	}()
	logger.Info(name+": pprof serving", "addr", ln.Addr().String())
	return func() { srv.Close(); <-done }, nil
}
