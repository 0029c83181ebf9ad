// Package link is the link service: it validates and stores short links, checks quota with billing and announces each new link through an outbox.
package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/service"
)

// Run is `faultline serve link`: it serves until ctx is done, then drains requests, flushes the
// outbox relay, NATS and spans, and returns.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := service.New("link", getenv, stderr)
	dbURL := config.String(s.Flags, "database-url", "DATABASE_URL", "", "PostgreSQL URL of link-db (required)")
	billingURL := config.String(s.Flags, "billing-url", "BILLING_URL", "http://127.0.0.1:8085", "billing base URL")
	natsURL := config.String(s.Flags, "nats-url", "NATS_URL", "nats://127.0.0.1:4222", "NATS URL")
	if err := s.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return config.Usage(errors.New("link: --database-url (DATABASE_URL) is required"))
	}
	return s.Run(ctx, func(ctx context.Context, env *service.Env) error {
		return serve(ctx, env, *dbURL, *billingURL, *natsURL)
	})
}

func serve(ctx context.Context, env *service.Env, dbURL, billingURL, natsURL string) error {
	logger, t, prof := env.Logger, env.Tel, env.Profile
	pool, err := OpenPool(ctx, dbURL, prof.Limits.ConnectTimeout.D())
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrateWithRetry(ctx, pool, logger); err != nil {
		return err
	}
	nc, js, err := events.Connect(ctx, natsURL, "link", logger)
	if err != nil {
		return err
	}
	defer nc.Close()

	pub := events.NewPublisher(js, t, "link->nats", prof.Events.Dedup, logger)
	store := NewStore(pool, prof.Edge(EdgeDB), t, logger)
	relay := events.NewRelay(pool, pub, t, EdgeDB, logger)
	direct := newDirectPublisher(pub, logger)
	h := &handlers{
		store: store, quota: NewQuota(billingURL, prof.Edge(EdgeBilling), prof.Limits.ConnectTimeout.D(), t, logger),
		t: t, logger: logger, outbox: prof.Events.Outbox,
		notify: relay.Notify, direct: direct.Enqueue, now: time.Now,
	}
	ready := map[string]func(context.Context) error{"link-db": store.Ping, "nats": events.Ready(nc)}

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
	serveErr := env.Serve(ctx, routes(h, t, ready), "outbox", prof.Events.Outbox, "dedup", prof.Events.Dedup)
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
