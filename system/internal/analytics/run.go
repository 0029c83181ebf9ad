// Package analytics counts links and clicks from JetStream events into its own PostgreSQL database, exactly once per event id, and serves the counts.
package analytics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/service"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// Start-up bounds: the database may come up a moment after analytics.
const (
	migrateWait  = 30 * time.Second
	migrateRetry = 250 * time.Millisecond
	poolMaxConns = 16 // every profile keeps it: it bounds concurrent database calls even under none
)

// Run runs analytics until ctx ends (SIGTERM): then it drains HTTP, drains the consumers and
// closes the database pool.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := service.New("analytics", getenv, stderr)
	dbURL := config.String(s.Flags, "database-url", "DATABASE_URL", "", "PostgreSQL URL of analytics-db")
	natsURL := config.String(s.Flags, "nats-url", "NATS_URL", "", "NATS URL for link and click events")
	if err := s.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return config.Usage(errors.New("analytics: --database-url (DATABASE_URL) is required"))
	}
	if *natsURL == "" {
		return config.Usage(errors.New("analytics: --nats-url (NATS_URL) is required"))
	}
	return s.Run(ctx, func(ctx context.Context, env *service.Env) error {
		return serve(ctx, env, *dbURL, *natsURL)
	})
}

func serve(ctx context.Context, env *service.Env, dbURL, natsURL string) error {
	logger, tel := env.Logger, env.Tel
	pool, err := OpenPool(ctx, dbURL, env.Profile.Limits.ConnectTimeout.D(), tel)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := NewStore(pool)
	store.Dedup = env.Profile.Events.Dedup
	if err := migrateWithRetry(ctx, store, logger); err != nil {
		return err
	}
	guarded := NewGuardedStore(store, env.Profile.Edge(EdgeDB), tel, logger)

	nc, js, err := events.Connect(ctx, natsURL, "analytics", logger)
	if err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	defer nc.Close()
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	for _, c := range []struct{ stream, durable, subject string }{
		{events.StreamLinks, events.ConsumerAnalyticsLinks, events.SubjectLinkCreated},
		{events.StreamClicks, events.ConsumerAnalyticsClicks, events.SubjectClick},
	} {
		stop, err := events.Consume(ctx, js, c.stream, c.durable, Handler(c.subject, guarded, logger),
			events.WithTelemetry(tel), events.WithLogger(logger))
		if err != nil {
			return fmt.Errorf("analytics: %w", err)
		}
		stops = append(stops, stop)
	}

	ready := map[string]func(context.Context) error{"analytics-db": store.Ping, "nats": events.Ready(nc)}
	err = env.Serve(ctx, NewServer(logger, tel, guarded, ready), "dedup", store.Dedup)
	logger.Info("analytics: stopped", "err", err)
	return err
}

// OpenPool returns a pgx pool on dsn whose statements are CLIENT spans on the
// analytics->analytics-db edge. It does not wait for the database. connect bounds opening a
// connection (0 = none, pgx's default unless the DSN sets connect_timeout).
func OpenPool(ctx context.Context, dsn string, connect time.Duration, tel *telemetry.Telemetry) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, config.Usage(fmt.Errorf("analytics: --database-url: %w", err))
	}
	cfg.MaxConns = poolMaxConns
	cfg.ConnConfig.ConnectTimeout = connect
	if tel != nil {
		cfg.ConnConfig.Tracer = queryTracer{tracer: tel.Tracer}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("analytics: database pool: %w", err)
	}
	return pool, nil
}

// migrateWithRetry applies migrations, waiting up to migrateWait for the database to answer.
func migrateWithRetry(ctx context.Context, store *Store, logger *slog.Logger) error {
	deadline := time.Now().Add(migrateWait)
	for attempt := 1; ; attempt++ {
		err := store.Migrate(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("analytics: migrations not applied after %d attempts: %w", attempt, err)
		}
		if attempt == 1 {
			logger.Warn("analytics: database not ready, retrying migrations", "err", err)
		}
		t := time.NewTimer(migrateRetry)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}
