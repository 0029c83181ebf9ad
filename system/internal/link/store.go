package link

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Edge and peer names of the database calls.
const (
	EdgeDB = "link->link-db"
	PeerDB = "link-db"
)

// migrationLock is the advisory lock id serialising migrations of concurrent link instances.
const migrationLock = 0x6c696e6b // "link"

// ErrNotFound means no link has the code.
var ErrNotFound = errors.New("link: not found")

// errCollision is a generated code that already exists.
var errCollision = errors.New("link: code collision")

// Link is one short link.
type Link struct {
	Code         string    `json:"code"`
	URL          string    `json:"url"`
	Account      string    `json:"account"`
	QuotaChecked bool      `json:"quota_checked"`
	CreatedAt    time.Time `json:"created_at"`
}

// Store keeps links (and their outbox rows) in PostgreSQL; every statement runs through the
// link->link-db pipeline inside a CLIENT span.
type Store struct {
	pool *pgxpool.Pool
	exec *resilience.Executor[any]
	t    *telemetry.Telemetry
}

// dbClassifier: driver errors and timeouts are failures; a unique violation or a missing row
// is an answer, not a sick database. Only errors pgx knows were never sent are retried, since
// a write whose outcome is unknown must not run twice.
var dbClassifier = resilience.Classifier[any]{
	Failure: func(_ any, err error) bool {
		return err != nil && !errors.Is(err, errCollision) && !errors.Is(err, ErrNotFound) && !errors.Is(err, context.Canceled)
	},
	Retryable: func(_ any, err error) bool {
		return pgconn.SafeToRetry(err)
	},
}

// PoolMaxConns is link's PostgreSQL pool: every profile keeps it, so it bounds concurrent
// database calls (a bulkhead of sorts) even under profile none.
const PoolMaxConns = 32

// OpenPool opens a pgx pool sized for a busy service on a small machine. connect bounds
// opening a connection (0 = none, pgx's default unless the DSN sets connect_timeout).
func OpenPool(ctx context.Context, dsn string, connect time.Duration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("link: --database-url: %w", err)
	}
	cfg.MaxConns = PoolMaxConns
	cfg.MinConns = 2
	cfg.MaxConnIdleTime = time.Minute
	cfg.HealthCheckPeriod = 5 * time.Second
	cfg.ConnConfig.ConnectTimeout = connect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("link: database: %w", err)
	}
	return pool, nil
}

// NewStore wraps pool with the profile's link->link-db pipeline.
func NewStore(pool *pgxpool.Pool, p resilience.EdgePolicy, t *telemetry.Telemetry, logger *slog.Logger) *Store {
	return &Store{pool: pool, exec: resilience.NewExecutor(EdgeDB, p, dbClassifier, t, logger), t: t}
}

// Migrate applies the embedded migrations (and the outbox table) once, under an advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	type mig struct{ name, sql string }
	var migs []mig
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("link: migrations: %w", err)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return fmt.Errorf("link: migrations: %w", err)
		}
		migs = append(migs, mig{n, string(b)})
	}
	migs = append(migs, mig{"events/outbox", events.OutboxDDL})
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("link: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("link: migrate lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("link: migrate: %w", err)
	}
	for _, m := range migs {
		tag, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1) ON CONFLICT DO NOTHING`, m.name)
		if err != nil {
			return fmt.Errorf("link: migrate %s: %w", m.name, err)
		}
		if tag.RowsAffected() == 0 {
			continue // applied before
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("link: migrate %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("link: migrate commit: %w", err)
	}
	return nil
}

// query runs fn as one pipelined call on the DB edge, inside a CLIENT span named op.
func (s *Store) query(ctx context.Context, op, table string, fn func(ctx context.Context) error) error {
	_, err := s.exec.Get(ctx, func(ctx context.Context) (any, error) {
		ctx, span := s.t.Tracer.Start(ctx, op+" "+table, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(
				attribute.String(telemetry.AttrPeerService, PeerDB),
				attribute.String(telemetry.AttrEdge, EdgeDB),
				attribute.String(telemetry.AttrDBSystem, "postgresql"),
				attribute.String(telemetry.AttrDBOperation, op),
				attribute.Int(telemetry.AttrAttempt, telemetry.AttemptFrom(ctx))))
		defer span.End()
		err := fn(ctx)
		// An attempt cut by the pipeline's timeout failed too, although its error is a
		// cancellation the classifier does not count.
		if err != nil && (dbClassifier.Failure(nil, err) || ctx.Err() != nil) {
			span.RecordError(err)
			span.SetStatus(codes.Error, "query failed")
		}
		return nil, err
	}, nil)
	return err
}

// Insert stores l and, when ev is non-nil, its event in the outbox, in one transaction. A
// code that exists already gives errCollision.
func (s *Store) Insert(ctx context.Context, l Link, ev *events.Event, traceparent string) error {
	return s.query(ctx, "INSERT", "links", func(ctx context.Context) error {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("link: begin: %w", err)
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		_, err = tx.Exec(ctx, `INSERT INTO links (code, url, account, quota_checked, created_at) VALUES ($1, $2, $3, $4, $5)`,
			l.Code, l.URL, l.Account, l.QuotaChecked, l.CreatedAt)
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return errCollision
			}
			return fmt.Errorf("link: insert: %w", err)
		}
		if ev != nil {
			if err := events.InsertOutbox(ctx, tx, *ev, traceparent); err != nil {
				return err
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("link: commit: %w", err)
		}
		return nil
	})
}

// Get returns the link with code, or ErrNotFound.
func (s *Store) Get(ctx context.Context, code string) (Link, error) {
	var l Link
	err := s.query(ctx, "SELECT", "links", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, `SELECT code, url, account, quota_checked, created_at FROM links WHERE code = $1`, code).
			Scan(&l.Code, &l.URL, &l.Account, &l.QuotaChecked, &l.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("link: select: %w", err)
		}
		return nil
	})
	return l, err
}

// Ping checks the database (for /readyz), outside the pipeline so readiness sees the truth.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("link-db: %w", err)
	}
	return nil
}
