package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// GuardedStore runs every store call through the analytics->analytics-db pipeline, so a sick
// database is shed by the breaker instead of piling up consumer goroutines.
type GuardedStore struct {
	store *Store
	exec  *resilience.Executor[any]
}

// dbClassifier: an event the store refuses is the event's fault, not the database's.
var dbClassifier = resilience.Classifier[any]{
	Failure: func(_ any, err error) bool {
		return err != nil && !errors.Is(err, ErrInvalidEvent) && !errors.Is(err, context.Canceled)
	},
	Retryable: func(_ any, err error) bool {
		// Apply is idempotent by event id, so a retry is always safe.
		return err != nil && !errors.Is(err, ErrInvalidEvent) && !errors.Is(err, context.Canceled)
	},
}

// NewGuardedStore wraps store with the pipeline built from policy.
func NewGuardedStore(store *Store, policy resilience.EdgePolicy, t *telemetry.Telemetry, logger *slog.Logger) *GuardedStore {
	return &GuardedStore{store: store, exec: resilience.NewExecutor(EdgeDB, policy, dbClassifier, t, logger)}
}

// Apply is Store.Apply through the pipeline.
func (g *GuardedStore) Apply(ctx context.Context, r Record) (Applied, error) {
	v, err := g.exec.Get(ctx, func(ctx context.Context) (any, error) { return g.store.Apply(ctx, r) }, nil)
	a, _ := v.(Applied)
	return a, err
}

// Clicks is Store.Clicks through the pipeline.
func (g *GuardedStore) Clicks(ctx context.Context, code string) (int64, error) {
	v, err := g.exec.Get(ctx, func(ctx context.Context) (any, error) { return g.store.Clicks(ctx, code) }, nil)
	n, _ := v.(int64)
	return n, err
}

// Stats is Store.Stats through the pipeline.
func (g *GuardedStore) Stats(ctx context.Context) (Stats, error) {
	v, err := g.exec.Get(ctx, func(ctx context.Context) (any, error) { return g.store.Stats(ctx) }, nil)
	s, _ := v.(Stats)
	return s, err
}

// applier is what the event handlers need from the store.
type applier interface {
	Apply(ctx context.Context, r Record) (Applied, error)
}

// kindOf maps an event type to what it counts, checking it came on the right subject.
var kindOf = map[string]struct{ kind, subject string }{
	events.TypeLinkCreated: {KindLink, events.SubjectLinkCreated},
	events.TypeClick:       {KindClick, events.SubjectClick},
}

// Handler applies events of subject to the store. A duplicate is reported as
// events.ErrDuplicate (acked, counted as duplicate); a store failure is returned so the
// message is redelivered; an event that can never be applied is logged and acked.
func Handler(subject string, store applier, logger *slog.Logger) events.Handler {
	return func(ctx context.Context, ev events.Event) error {
		k, ok := kindOf[ev.Type]
		if !ok || k.subject != subject {
			logger.Error("analytics: event of wrong type dropped", "id", ev.ID, "type", ev.Type, "subject", subject)
			return nil
		}
		a, err := store.Apply(ctx, Record{ID: ev.ID, Subject: subject, Kind: k.kind, Code: ev.Code, URL: ev.URL, Account: ev.Account, At: ev.At})
		switch {
		case errors.Is(err, ErrInvalidEvent):
			logger.Error("analytics: invalid event dropped", "id", ev.ID, "err", err)
			return nil
		case err != nil:
			return fmt.Errorf("analytics: apply %s: %w", ev.ID, err)
		case a.Duplicate && !a.Counted:
			return events.ErrDuplicate
		case a.Duplicate:
			// Only with dedup off (the no-dedup mutant): counted twice, on purpose, visibly.
			logger.Warn("analytics: duplicate event counted again (dedup off)", "id", ev.ID)
		}
		return nil
	}
}
