package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// OutboxDDL creates the outbox table (idempotent); the owning service runs it in its
// migrations. A row is an event written in the same transaction as the change it announces.
const OutboxDDL = `
CREATE TABLE IF NOT EXISTS outbox (
	id          text PRIMARY KEY,
	type        text NOT NULL,
	payload     jsonb NOT NULL,
	traceparent text NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL DEFAULT now(),
	sent_at     timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (created_at) WHERE sent_at IS NULL;
`

// InsertOutbox writes ev into the outbox within tx; traceparent is the creating request's.
func InsertOutbox(ctx context.Context, tx pgx.Tx, ev Event, traceparent string) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("events: outbox encode: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO outbox (id, type, payload, traceparent, created_at) VALUES ($1, $2, $3, $4, $5)`,
		ev.ID, ev.Type, body, traceparent, ev.At)
	if err != nil {
		return fmt.Errorf("events: outbox insert: %w", err)
	}
	return nil
}

// Relay settings.
const (
	RelayInterval   = 100 * time.Millisecond // poll period when nobody kicks the relay
	RelayBatch      = 256
	relayMaxBackoff = time.Second // an outage costs at most ~1 s of extra lag once NATS is back
	relayRetention  = time.Hour   // sent rows are kept this long for inspection, then deleted
)

// Relay publishes outbox rows to JetStream, with the event id as message id, and marks a row
// sent only after JetStream acked it. While NATS is down rows stay and the relay backs off.
type Relay struct {
	pool   *pgxpool.Pool
	pub    *Publisher
	t      *telemetry.Telemetry
	logger *slog.Logger
	edgeDB string
	kick   chan struct{}
}

// NewRelay returns a relay over the outbox table in pool. edgeDB ("link->link-db") labels its
// SQL client spans.
func NewRelay(pool *pgxpool.Pool, pub *Publisher, t *telemetry.Telemetry, edgeDB string, logger *slog.Logger) *Relay {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{pool: pool, pub: pub, t: t, logger: logger.With("component", "outbox-relay"), edgeDB: edgeDB, kick: make(chan struct{}, 1)}
}

// Notify wakes the relay (after a commit) without waiting for the next poll.
func (r *Relay) Notify() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run relays until ctx is done, then makes one last bounded attempt to flush what is pending.
func (r *Relay) Run(ctx context.Context) error {
	backoff := RelayInterval
	failing := false
	lastClean := time.Now()
	// Gauges are refreshed on their own clock: a flush may wait seconds for acks while NATS is
	// away, and that is exactly when outbox_pending and outbox_lag_seconds matter.
	statsCtx, stopStats := context.WithCancel(ctx)
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			r.stats(statsCtx)
			select {
			case <-statsCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { stopStats(); <-statsDone }()
	for {
		n, err := r.Flush(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				r.logger.Warn("events: outbox relay failing, rows kept", "error", err)
			}
			failing = true
			backoff = min(backoff*2, relayMaxBackoff)
		case err == nil && failing:
			r.logger.Info("events: outbox relay recovered")
			failing, backoff = false, RelayInterval
		}
		if time.Since(lastClean) > time.Minute {
			r.clean(ctx)
			lastClean = time.Now()
		}
		if n == RelayBatch && err == nil {
			continue // more waiting: no sleep
		}
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			n, err := r.Flush(fctx)
			r.stats(fctx)
			cancel()
			r.logger.Info("events: outbox relay stopped", "flushed", n, "error", errString(err))
			return nil
		case <-r.kick:
		case <-time.After(backoff):
		}
	}
}

type outboxRow struct {
	ev          Event
	traceparent string
}

// Flush publishes one batch of unsent rows and marks the acked ones; it returns how many rows
// it read.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	rows, err := r.pool.Query(ctx, `SELECT payload, traceparent FROM outbox WHERE sent_at IS NULL ORDER BY created_at LIMIT $1`, RelayBatch)
	if err != nil {
		return 0, fmt.Errorf("events: outbox read: %w", err)
	}
	var batch []outboxRow
	for rows.Next() {
		var (
			payload []byte
			row     outboxRow
		)
		if err := rows.Scan(&payload, &row.traceparent); err != nil {
			rows.Close()
			return 0, fmt.Errorf("events: outbox scan: %w", err)
		}
		if err := json.Unmarshal(payload, &row.ev); err != nil {
			rows.Close()
			return 0, fmt.Errorf("events: outbox decode: %w", err)
		}
		batch = append(batch, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("events: outbox read: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	evs := make([]Event, len(batch))
	parents := make([]context.Context, len(batch))
	for i, row := range batch {
		evs[i] = row.ev
		parents[i] = ctx
		if row.traceparent != "" {
			h := map[string][]string{HeaderTraceparent: {row.traceparent}}
			parents[i] = r.t.Propagator.Extract(ctx, headerCarrier(h))
		}
	}
	errs := r.pub.PublishAll(ctx, evs, parents)
	var acked []string
	var firstErr error
	for i, err := range errs {
		if err == nil {
			acked = append(acked, evs[i].ID)
		} else if firstErr == nil {
			firstErr = err
		}
	}
	if len(acked) > 0 {
		sctx, span := r.t.Tracer.Start(ctx, "UPDATE outbox", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String(telemetry.AttrPeerService, "link-db"),
				attribute.String(telemetry.AttrEdge, r.edgeDB),
				attribute.String(telemetry.AttrDBSystem, "postgresql"),
				attribute.String(telemetry.AttrDBOperation, "UPDATE")))
		_, err := r.pool.Exec(sctx, `UPDATE outbox SET sent_at = now() WHERE id = ANY($1)`, acked)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		if err != nil {
			// Published but not marked: the next pass republishes and JetStream de-dups by id.
			return len(batch), fmt.Errorf("events: outbox mark sent: %w", err)
		}
	}
	return len(batch), firstErr
}

func (r *Relay) stats(ctx context.Context) {
	var (
		pending int64
		lag     float64
	)
	err := r.pool.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 FROM outbox WHERE sent_at IS NULL`).Scan(&pending, &lag)
	if err != nil {
		return
	}
	r.t.Metrics.OutboxPending.Set(float64(pending))
	r.t.Metrics.OutboxLagSeconds.Set(lag)
}

func (r *Relay) clean(ctx context.Context) {
	_, _ = r.pool.Exec(ctx, `DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - $1::interval`, fmt.Sprintf("%d seconds", int(relayRetention.Seconds())))
}
