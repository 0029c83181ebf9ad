package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/faultline/faultline/system/internal/events"
)

// DefaultPlan is what an unknown account gets on first use.
const DefaultPlan = "free"

// Plans seeded on first start. free is generous on purpose: load scenarios create links at
// tens per second for minutes and must not hit it; tiny exists to exercise 402 quota_exceeded.
var seedPlans = []struct {
	Name  string
	Limit int64
}{{"free", 1_000_000}, {"pro", 100_000_000}, {"tiny", 3}}

const schema = `
CREATE TABLE IF NOT EXISTS plans (
	name       TEXT PRIMARY KEY,
	link_limit INTEGER NOT NULL CHECK (link_limit >= 0)
);
CREATE TABLE IF NOT EXISTS accounts (
	id         TEXT PRIMARY KEY,
	plan       TEXT NOT NULL REFERENCES plans(name),
	created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
	account       TEXT PRIMARY KEY,
	links_created INTEGER NOT NULL DEFAULT 0
);
-- processed makes the consumer idempotent: an event id is recorded in the same transaction
-- as the usage it adds, so a redelivery adds nothing.
CREATE TABLE IF NOT EXISTS processed (
	event_id     TEXT PRIMARY KEY,
	processed_at TEXT NOT NULL
);
`

// ErrUnknownPlan is returned when an account is moved to a plan that does not exist.
var ErrUnknownPlan = errors.New("billing: unknown plan")

// Store is billing's SQLite file.
type Store struct {
	db *sql.DB
}

// Quota is GET /quota/{account}.
type Quota struct {
	Account   string `json:"account"`
	Plan      string `json:"plan"`
	Limit     int64  `json:"limit"`
	Used      int64  `json:"used"`
	Remaining int64  `json:"remaining"`
	Allowed   bool   `json:"allowed"`
}

// Open opens (creating if needed) the SQLite file at path in WAL mode with a busy timeout.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("billing: open %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and every statement here is tiny; this
	// rules out SQLITE_BUSY between our own connections.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the file answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("billing: schema: %w", err)
	}
	for _, p := range seedPlans {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO plans (name, link_limit) VALUES (?, ?) ON CONFLICT(name) DO NOTHING`, p.Name, p.Limit); err != nil {
			return fmt.Errorf("billing: seed plans: %w", err)
		}
	}
	return nil
}

func ensureAccount(ctx context.Context, tx *sql.Tx, account string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, plan, created_at) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		account, DefaultPlan, time.Now().UTC().Format(time.RFC3339Nano))
	return err
}

// Quota returns account's quota, creating the account on the free plan on first use.
func (s *Store) Quota(ctx context.Context, account string) (Quota, error) {
	q := Quota{Account: account}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return q, fmt.Errorf("billing: quota: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := ensureAccount(ctx, tx, account); err != nil {
		return q, fmt.Errorf("billing: quota: %w", err)
	}
	err = tx.QueryRowContext(ctx, `
		SELECT a.plan, p.link_limit, COALESCE(u.links_created, 0)
		FROM accounts a JOIN plans p ON p.name = a.plan LEFT JOIN usage u ON u.account = a.id
		WHERE a.id = ?`, account).Scan(&q.Plan, &q.Limit, &q.Used)
	if err != nil {
		return q, fmt.Errorf("billing: quota: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return q, fmt.Errorf("billing: quota: %w", err)
	}
	q.Remaining = max(q.Limit-q.Used, 0)
	q.Allowed = q.Used < q.Limit
	return q, nil
}

// Usage returns how many links account created (0 for an account never seen).
func (s *Store) Usage(ctx context.Context, account string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT links_created FROM usage WHERE account = ?`, account).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("billing: usage: %w", err)
	}
	return n, nil
}

// SetPlan moves account to plan (creating the account).
func (s *Store) SetPlan(ctx context.Context, account, plan string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("billing: set plan: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM plans WHERE name = ?`, plan).Scan(&exists); err != nil {
		return fmt.Errorf("billing: set plan: %w", err)
	}
	if exists == 0 {
		return fmt.Errorf("%w %q", ErrUnknownPlan, plan)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO accounts (id, plan, created_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET plan = excluded.plan`,
		account, plan, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("billing: set plan: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("billing: set plan: %w", err)
	}
	return nil
}

// CountLink adds one link to ev's account. With dedup, an event id already processed adds
// nothing and returns events.ErrDuplicate; the id and the usage commit together.
func (s *Store) CountLink(ctx context.Context, ev events.Event, dedup bool) error {
	account := ev.Account
	if account == "" {
		account = "default"
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("billing: count: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if dedup {
		res, err := tx.ExecContext(ctx, `INSERT INTO processed (event_id, processed_at) VALUES (?, ?) ON CONFLICT(event_id) DO NOTHING`,
			ev.ID, time.Now().UTC().Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("billing: count: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return events.ErrDuplicate
		}
	}
	if err := ensureAccount(ctx, tx, account); err != nil {
		return fmt.Errorf("billing: count: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO usage (account, links_created) VALUES (?, 1) ON CONFLICT(account) DO UPDATE SET links_created = links_created + 1`, account); err != nil {
		return fmt.Errorf("billing: count: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("billing: count: %w", err)
	}
	return nil
}
