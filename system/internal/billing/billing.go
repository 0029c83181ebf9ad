// Package billing is the billing service: accounts, plans and quota in its own SQLite file, with usage counted from link-created events.
package billing

import (
	"context"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// Config is everything the service needs, already parsed.
type Config struct {
	Profile    *resilience.Profile
	SQLitePath string
	NATSURL    string
	Logger     *slog.Logger
	Getenv     func(string) string
}

// Run is `faultline serve billing`.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := config.NewFlagSet("billing", getenv, stderr)
	common := config.AddCommon(fs)
	path := config.String(fs, "sqlite-path", "SQLITE_PATH", "billing.db", "SQLite file of billing")
	natsURL := config.String(fs, "nats-url", "NATS_URL", "nats://127.0.0.1:4222", "NATS URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := common.Logger(stderr, "billing")
	if err != nil {
		return err
	}
	prof, err := resilience.Load(*common.Profile)
	if err != nil {
		return config.Usage(err)
	}
	ln, err := httpx.Listen(*common.Listen)
	if err != nil {
		return err
	}
	return Serve(ctx, Config{Profile: prof, SQLitePath: *path, NATSURL: *natsURL, Logger: logger, Getenv: getenv}, ln)
}

// Serve runs billing on ln until ctx is done: HTTP API plus the billing-links consumer.
func Serve(ctx context.Context, cfg Config, ln net.Listener) error {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t, err := telemetry.Setup(ctx, "billing", cfg.Getenv, logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = t.Shutdown(sctx)
	}()
	store, err := Open(ctx, cfg.SQLitePath)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer store.Close()
	nc, js, err := events.Connect(ctx, cfg.NATSURL, "billing", logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer nc.Close()
	dedup := cfg.Profile.Events.Dedup
	stop, err := events.Consume(ctx, js, events.StreamLinks, events.ConsumerBillingLinks,
		func(ctx context.Context, ev events.Event) error {
			if ev.Type != events.TypeLinkCreated {
				return nil // not ours to count; ack it
			}
			return store.CountLink(ctx, ev, dedup)
		},
		events.WithTelemetry(t), events.WithLogger(logger))
	if err != nil {
		_ = ln.Close()
		return err
	}
	h := &handlers{store: store, logger: logger}
	ready := map[string]func(context.Context) error{"sqlite": store.Ping, "nats": events.Ready(nc)}
	srv := httpx.NewServer(ln.Addr().String(), routes(h, t, ready))
	logger.Info("billing: serving", "addr", ln.Addr().String(), "sqlite", cfg.SQLitePath, "dedup", dedup)
	serveErr := httpx.Serve(ctx, srv, ln)
	stop() // drains in-flight events: their usage commits before the file closes
	logger.Info("billing: stopped")
	return serveErr
}
