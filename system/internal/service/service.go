// Package service is the start-up and shutdown sequence every Faultline service shares: common
// flags, logger, resilience profile, telemetry, listener, serve and drain.
package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// TelemetryFlush bounds the span flush at exit.
const TelemetryFlush = 5 * time.Second

// Service is one service being configured: define its own flags on Flags, then Parse and Run.
type Service struct {
	Name   string
	Flags  *config.FlagSet
	common *config.Common
	getenv func(string) string
	stderr io.Writer
}

// New returns service name with the common flags (--listen, --profile, --log-format)
// defined; environment defaults come from getenv, usage and logs go to stderr.
func New(name string, getenv func(string) string, stderr io.Writer) *Service {
	fs := config.NewFlagSet(name, getenv, stderr)
	return &Service{Name: name, Flags: fs, common: config.AddCommon(fs), getenv: getenv, stderr: stderr}
}

// Parse parses args; a help request returns config.ErrHelp (usage was printed), anything bad
// a usage error.
func (s *Service) Parse(args []string) error {
	return s.Flags.Parse(args)
}

// Env is what a service's body gets: everything shared, ready to use.
type Env struct {
	Name    string
	Logger  *slog.Logger
	Profile *resilience.Profile
	Tel     *telemetry.Telemetry
	listen  string
}

// Run builds the logger, loads the profile and starts telemetry, then runs body until it
// returns; telemetry is flushed (bounded by TelemetryFlush) after body returns. body wires the
// service and calls env.Serve; whatever it defers runs after the HTTP drain.
func (s *Service) Run(ctx context.Context, body func(ctx context.Context, env *Env) error) error {
	logger, err := s.common.Logger(s.stderr, s.Name)
	if err != nil {
		return err
	}
	profile, err := resilience.Load(*s.common.Profile)
	if err != nil {
		return config.Usage(fmt.Errorf("%s: %w", s.Name, err))
	}
	tel, err := telemetry.Setup(ctx, s.Name, s.getenv, logger)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	setGCPercent(s.getenv)
	pprofDir := ""
	if s.getenv != nil {
		pprofDir = s.getenv(PprofDirEnv)
	}
	stopPprof, err := startPprof(s.Name, pprofDir, logger)
	if err != nil {
		return err
	}
	defer stopPprof()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), TelemetryFlush)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			logger.Warn(s.Name+": telemetry shutdown", "err", err)
		}
	}()
	return body(ctx, &Env{Name: s.Name, Logger: logger, Profile: profile, Tel: tel, listen: *s.common.Listen})
}

// Serve listens on --listen and serves h until ctx ends, then drains in-flight requests. attrs
// are added to the "serving" log line after the address and profile.
func (e *Env) Serve(ctx context.Context, h http.Handler, attrs ...any) error {
	ln, err := httpx.Listen(e.listen)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	e.Logger.Info(e.Name+": serving", append([]any{"addr", ln.Addr().String(), "profile", e.Profile.Name}, attrs...)...)
	srv := e.Profile.Limits.Server
	to := httpx.ServerTimeouts{ReadHeader: srv.ReadHeaderTimeout.D(), Read: srv.ReadTimeout.D(), Write: srv.WriteTimeout.D()}
	return httpx.Serve(ctx, httpx.NewServer(ln.Addr().String(), h, to), ln)
}
