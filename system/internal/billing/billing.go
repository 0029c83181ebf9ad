// Package billing is the billing service: accounts, plans and quota in its own SQLite file, with usage counted from link-created events.
package billing

import (
	"context"
	"io"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/service"
)

// Run is `faultline serve billing`: the HTTP API plus the billing-links consumer, until ctx is
// done.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := service.New("billing", getenv, stderr)
	path := config.String(s.Flags, "sqlite-path", "SQLITE_PATH", "billing.db", "SQLite file of billing")
	natsURL := config.String(s.Flags, "nats-url", "NATS_URL", "nats://127.0.0.1:4222", "NATS URL")
	if err := s.Parse(args); err != nil {
		return err
	}
	return s.Run(ctx, func(ctx context.Context, env *service.Env) error {
		return serve(ctx, env, *path, *natsURL)
	})
}

func serve(ctx context.Context, env *service.Env, sqlitePath, natsURL string) error {
	logger := env.Logger
	store, err := Open(ctx, sqlitePath)
	if err != nil {
		return err
	}
	defer store.Close()
	nc, js, err := events.Connect(ctx, natsURL, "billing", logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	dedup := env.Profile.Events.Dedup
	stop, err := events.Consume(ctx, js, events.StreamLinks, events.ConsumerBillingLinks,
		func(ctx context.Context, ev events.Event) error {
			if ev.Type != events.TypeLinkCreated {
				return nil // not ours to count; ack it
			}
			return store.CountLink(ctx, ev, dedup)
		},
		events.WithTelemetry(env.Tel), events.WithLogger(logger))
	if err != nil {
		return err
	}
	h := &handlers{store: store, logger: logger}
	ready := map[string]func(context.Context) error{"sqlite": store.Ping, "nats": events.Ready(nc)}
	serveErr := env.Serve(ctx, routes(h, env.Tel, ready), "sqlite", sqlitePath, "dedup", dedup)
	stop() // drains in-flight events: their usage commits before the file closes
	logger.Info("billing: stopped")
	return serveErr
}
