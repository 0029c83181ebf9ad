// Package httpx holds the HTTP plumbing every service shares: hardened servers, instrumented handlers and clients, JSON and health endpoints.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server settings every profile keeps: they bound idle connections and header size, never a
// request in flight. The deadlines that do are the profile's (ServerTimeouts).
const (
	IdleTimeout    = 60 * time.Second
	MaxHeaderBytes = 64 << 10
	// DrainTimeout bounds the graceful drain on shutdown (contract: ≤ 5 s).
	DrainTimeout = 5 * time.Second
)

// ServerTimeouts are an HTTP server's deadlines, from the resilience profile; zero = none,
// net/http's default. ReadTimeout also ends a request's context when it passes during the
// handler, so it bounds every inbound call.
type ServerTimeouts struct {
	ReadHeader, Read, Write time.Duration
}

// NewServer returns an http.Server with the deadlines to and the header size limit set.
func NewServer(addr string, h http.Handler, to ServerTimeouts) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: to.ReadHeader,
		ReadTimeout:       to.Read,
		WriteTimeout:      to.Write,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// Listen opens a TCP listener on addr ("host:port"; port 0 picks a free one).
func Listen(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("httpx: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves on ln until ctx is done, then stops accepting and drains in-flight requests for
// at most DrainTimeout. It returns nil after a clean drain.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("httpx: serve: %w", err)
	case <-ctx.Done():
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DrainTimeout)
	defer cancel()
	shutErr := srv.Shutdown(dctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpx: serve: %w", err)
	}
	if shutErr != nil {
		_ = srv.Close()
		return fmt.Errorf("httpx: drain: %w", shutErr)
	}
	return nil
}
