// Package natsd runs the embedded NATS server with JetStream as one component of the system.
package natsd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/faultline/faultline/system/internal/config"
)

// Options configure the server.
type Options struct {
	Listen     string // host:port for clients; port 0 picks one
	StoreDir   string // JetStream storage; empty = a temporary directory
	HTTPListen string // host:port for monitoring (/healthz); empty = off
}

// Server is a running NATS server.
type Server struct {
	srv     *server.Server
	tempDir string
}

// Start starts a server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	host, port, err := splitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("natsd: --listen %q: %w", o.Listen, err)
	}
	s := &Server{}
	if o.StoreDir == "" {
		d, err := os.MkdirTemp("", "natsd-*")
		if err != nil {
			return nil, fmt.Errorf("natsd: store dir: %w", err)
		}
		o.StoreDir, s.tempDir = d, d
	}
	if port == 0 {
		port = server.RANDOM_PORT // nats-server reads 0 as its default 4222
	}
	opts := &server.Options{
		ServerName: "faultline-nats",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true, // the process owner handles signals and calls Shutdown
		NoLog:      true,
		MaxPayload: 1 << 20,
	}
	if o.HTTPListen != "" {
		hh, hp, err := splitHostPort(o.HTTPListen)
		if err != nil {
			return nil, fmt.Errorf("natsd: --http-listen %q: %w", o.HTTPListen, err)
		}
		if hp == 0 {
			hp = server.RANDOM_PORT
		}
		opts.HTTPHost, opts.HTTPPort = hh, hp
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("natsd: %w", err)
	}
	s.srv = srv
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.cleanup()
		return nil, errors.New("natsd: not ready after 10s")
	}
	return s, nil
}

// ClientURL is the nats:// URL clients connect to.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// Addr is the client host:port.
func (s *Server) Addr() string { return s.srv.Addr().String() }

// Shutdown stops the server (lame-duck is not needed on loopback) and waits for it.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.cleanup()
}

func (s *Server) cleanup() {
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
}

// Run is `faultline serve nats`: it serves until ctx is done.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := config.NewFlagSet("nats", getenv, stderr)
	listen := config.String(fs, "listen", "", "127.0.0.1:4222", "host:port for NATS clients")
	store := config.String(fs, "store-dir", "NATS_STORE_DIR", "", "JetStream storage directory (empty = temporary)")
	httpListen := config.String(fs, "http-listen", "NATS_HTTP_LISTEN", "", "host:port for monitoring (/healthz)")
	logFormat := config.String(fs, "log-format", "LOG_FORMAT", "json", "log format: json or text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := config.NewLogger(stderr, *logFormat, "nats")
	if err != nil {
		return err
	}
	for flag, v := range map[string]string{"listen": *listen, "http-listen": *httpListen} {
		if _, _, err := splitHostPort(v); err != nil && (v != "" || flag == "listen") {
			return config.Usage(fmt.Errorf("natsd: --%s %q: want host:port", flag, v))
		}
	}
	s, err := Start(Options{Listen: *listen, StoreDir: *store, HTTPListen: *httpListen})
	if err != nil {
		return err
	}
	logger.Info("natsd: ready", "url", s.ClientURL(), "store_dir", *store, "http", *httpListen)
	<-ctx.Done()
	s.Shutdown()
	logger.Info("natsd: stopped")
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}
