// Package link is the link service: it validates and stores short links, checks quota with billing and announces each new link through an outbox.
package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// Config is everything the service needs, already parsed.
type Config struct {
	Profile     *resilience.Profile
	DatabaseURL string
	BillingURL  string
	NATSURL     string
	Logger      *slog.Logger
	Getenv      func(string) string // for OTEL_* variables
}

// Run is `faultline serve link`.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := config.NewFlagSet("link", getenv, stderr)
	common := config.AddCommon(fs)
	dbURL := config.String(fs, "database-url", "DATABASE_URL", "", "PostgreSQL URL of link-db (required)")
	billingURL := config.String(fs, "billing-url", "BILLING_URL", "http://127.0.0.1:8085", "billing base URL")
	natsURL := config.String(fs, "nats-url", "NATS_URL", "nats://127.0.0.1:4222", "NATS URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return config.Usage(errors.New("link: --database-url (DATABASE_URL) is required"))
	}
	logger, err := common.Logger(stderr, "link")
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
	return Serve(ctx, Config{Profile: prof, DatabaseURL: *dbURL, BillingURL: *billingURL, NATSURL: *natsURL, Logger: logger, Getenv: getenv}, ln)
}

// Serve runs the service on ln until ctx is done, then drains requests, flushes the outbox
// relay, NATS and spans, and returns.
func Serve(ctx context.Context, cfg Config, ln net.Listener) error {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t, err := telemetry.Setup(ctx, "link", cfg.Getenv, logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := t.Shutdown(sctx); err != nil {
			logger.Warn("link: telemetry shutdown", "error", err)
		}
	}()
	pool, err := OpenPool(ctx, cfg.DatabaseURL)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer pool.Close()
	if err := migrateWithRetry(ctx, pool, logger); err != nil {
		_ = ln.Close()
		return err
	}
	nc, js, err := events.Connect(ctx, cfg.NATSURL, "link", logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer nc.Close()

	prof := cfg.Profile
	pub := events.NewPublisher(js, t, "link->nats", prof.Events.Dedup, logger)
	store := NewStore(pool, prof.Edge(EdgeDB), t, logger)
	relay := events.NewRelay(pool, pub, t, EdgeDB, logger)
	direct := newDirectPublisher(pub, logger)
	h := &handlers{
		store: store, quota: NewQuota(cfg.BillingURL, prof.Edge(EdgeBilling), t, logger),
		t: t, logger: logger, outbox: prof.Events.Outbox,
		notify: relay.Notify, direct: direct.Enqueue, now: time.Now,
	}
	ready := map[string]func(context.Context) error{"link-db": store.Ping, "nats": events.Ready(nc)}
	srv := httpx.NewServer(ln.Addr().String(), routes(h, t, ready))

	// The relay outlives the HTTP drain so rows committed by the last requests are published.
	bgCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if prof.Events.Outbox {
			_ = relay.Run(bgCtx)
		} else {
			direct.Run(bgCtx)
		}
	}()
	logger.Info("link: serving", "addr", ln.Addr().String(), "profile", prof.Name, "outbox", prof.Events.Outbox, "dedup", prof.Events.Dedup)
	serveErr := httpx.Serve(ctx, srv, ln)
	stopBG()
	wg.Wait()
	if nc.IsConnected() {
		if err := nc.FlushTimeout(2 * time.Second); err != nil {
			logger.Warn("link: nats flush", "error", err)
		}
	}
	logger.Info("link: stopped")
	return serveErr
}

// migrateWithRetry waits (bounded by ctx, at most 60 s) for the database to accept migrations:
// the lab may start link while link-db is still coming up or cut off by a fault.
func migrateWithRetry(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	deadline := time.Now().Add(60 * time.Second)
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := Migrate(mctx, pool)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("link: database not ready: %w", err)
		}
		if attempt == 1 || attempt%10 == 0 {
			logger.Warn("link: database not ready, retrying", "error", err, "attempt", attempt)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("link: database not ready: %w", ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}
