package analytics

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Kinds of event the store applies.
const (
	KindLink  = "link"
	KindClick = "click"
)

// Store is analytics' own PostgreSQL database (analytics-db).
type Store struct {
	pool *pgxpool.Pool
	// Dedup off is the no-dedup mutant: a redelivered event is applied again.
	Dedup bool
}

// Applied is what the store did with one event.
type Applied struct {
	Duplicate bool // the event id was seen before
	Counted   bool // a counter changed
}

// Stats is the body of GET /stats.
type Stats struct {
	ClicksTotal int64            `json:"clicks_total"`
	LinksTotal  int64            `json:"links_total"`
	Codes       map[string]int64 `json:"codes"` // code → clicks
	// Links is code → link-created events applied: the lab compares it with the links it was
	// acknowledged, so a lost event shows as a missing code and a double-applied one as 2.
	Links map[string]int64 `json:"links"`
}

// NewStore wraps pool; Dedup is on.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool, Dedup: true} }

// Migrate applies the embedded migrations in name order, each once, under an advisory lock so
// two instances starting together do not race.
func (s *Store) Migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("analytics: list migrations: %w", err)
	}
	sort.Strings(names)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("analytics: migrate: %w", err)
	}
	defer conn.Release()
	const lockKey = 0x616e616c // "anal"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("analytics: migrate lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must go even when ctx ended.
		uctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", lockKey)
	}()
	for _, name := range names {
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("analytics: read migration %s: %w", name, err)
		}
		if err := applyMigration(ctx, conn.Conn(), version, string(body)); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, conn *pgx.Conn, version, body string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("analytics: migration %s: %w", version, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// The first migration creates schema_migrations itself, so run it before asking.
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return fmt.Errorf("analytics: migration %s: %w", version, err)
	}
	var done bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", version).Scan(&done); err != nil {
		return fmt.Errorf("analytics: migration %s: %w", version, err)
	}
	if done {
		return nil
	}
	if _, err := tx.Exec(ctx, body); err != nil {
		return fmt.Errorf("analytics: migration %s: %w", version, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", version); err != nil {
		return fmt.Errorf("analytics: migration %s: %w", version, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("analytics: migration %s: %w", version, err)
	}
	return nil
}

// Record is one event as the store needs it.
type Record struct {
	ID, Subject, Kind  string
	Code, URL, Account string
	At                 time.Time
}

// ErrInvalidEvent marks an event the store can never apply (retrying will not help).
var ErrInvalidEvent = errors.New("analytics: invalid event")

// Apply records the event id and changes the counter atomically, so an event is counted
// exactly once however often it is delivered. One statement (data-modifying CTEs run as one
// transaction): a round trip to the store per event instead of four (BEGIN, two INSERTs,
// COMMIT), which was most of the click pipeline's cost in PostgreSQL and in analytics.
func (s *Store) Apply(ctx context.Context, r Record) (Applied, error) {
	if r.ID == "" || r.Code == "" {
		return Applied{}, fmt.Errorf("%w: id %q code %q", ErrInvalidEvent, r.ID, r.Code)
	}
	var count string
	args := []any{r.ID, r.Subject, s.Dedup, r.Code}
	switch r.Kind {
	case KindLink:
		var at *time.Time
		if !r.At.IsZero() {
			at = &r.At
		}
		count = `INSERT INTO links (code, url, account, created_at, events)
			SELECT $4::text, $5::text, $6::text, $7::timestamptz, 1 WHERE NOT $3::boolean OR EXISTS (SELECT 1 FROM ev)
			ON CONFLICT (code) DO UPDATE SET events = links.events + 1`
		args = append(args, r.URL, r.Account, at)
	case KindClick:
		count = `INSERT INTO clicks (code, clicks)
			SELECT $4::text, 1 WHERE NOT $3::boolean OR EXISTS (SELECT 1 FROM ev)
			ON CONFLICT (code) DO UPDATE SET clicks = clicks.clicks + 1`
	default:
		return Applied{}, fmt.Errorf("%w: kind %q", ErrInvalidEvent, r.Kind)
	}
	// ev holds the id only when it was new; the counter moves only then (or always, with
	// Dedup off: the no-dedup mutant). Both CTEs see one snapshot and commit together.
	q := `WITH ev AS (
			INSERT INTO processed_events (id, subject) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING 1
		), counted AS (` + count + ` RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM ev), EXISTS (SELECT 1 FROM counted)`
	var fresh, counted bool
	if err := s.pool.QueryRow(ctx, q, args...).Scan(&fresh, &counted); err != nil {
		return Applied{}, fmt.Errorf("analytics: apply %s: %w", r.Kind, err)
	}
	return Applied{Duplicate: !fresh, Counted: counted}, nil
}

// Clicks returns the click count of one code (0 when never seen).
func (s *Store) Clicks(ctx context.Context, code string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT clicks FROM clicks WHERE code = $1", code).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("analytics: clicks of %s: %w", code, err)
	}
	return n, nil
}

// LinkEvents returns how many link-created events were applied for code.
func (s *Store) LinkEvents(ctx context.Context, code string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT events FROM links WHERE code = $1", code).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("analytics: link events of %s: %w", code, err)
	}
	return n, nil
}

// Stats returns totals, per-code clicks and per-code link events. links_total counts applied
// link events, so a double-applied event shows there too.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Codes: map[string]int64{}, Links: map[string]int64{}}
	// One snapshot for both tables, so the totals and the per-code maps agree.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Stats{}, fmt.Errorf("analytics: stats: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := scanCounts(ctx, tx, "SELECT code, events FROM links", st.Links, &st.LinksTotal); err != nil {
		return Stats{}, err
	}
	if err := scanCounts(ctx, tx, "SELECT code, clicks FROM clicks", st.Codes, &st.ClicksTotal); err != nil {
		return Stats{}, err
	}
	return st, nil
}

// scanCounts reads (code, n) rows into into and adds every n to total.
func scanCounts(ctx context.Context, tx pgx.Tx, query string, into map[string]int64, total *int64) error {
	rows, err := tx.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("analytics: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var n int64
		if err := rows.Scan(&code, &n); err != nil {
			return fmt.Errorf("analytics: stats: %w", err)
		}
		into[code] = n
		*total += n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("analytics: stats: %w", err)
	}
	return nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("analytics: database: %w", err)
	}
	return nil
}
