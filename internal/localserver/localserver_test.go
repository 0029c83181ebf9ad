package localserver

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// need fails on CI and skips elsewhere when a server binary is missing.
func need(t *testing.T, find func() (string, error)) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no servers")
	}
	if _, err := find(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v", err)
		}
		t.Skipf("%v", err)
	}
}

// leftovers lists the processes of tree that are still alive, from /proc.
func leftovers(tree []int) []int {
	var out []int
	for _, p := range tree {
		if Alive(p) {
			out = append(out, p)
		}
	}
	return out
}

func query(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var db string
	err = conn.QueryRow(ctx, "select current_database()").Scan(&db)
	return db, err
}

func TestPostgresLifecycle(t *testing.T) {
	need(t, PostgresBinDir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	s, err := Postgres(ctx, PostgresOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("postgres ready in %v at %s", time.Since(start), s.DSN)
	defer s.Stop()
	if !strings.HasPrefix(s.DSN, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(s.DSN, "/app?sslmode=disable") {
		t.Errorf("DSN = %q", s.DSN)
	}
	if db, err := query(ctx, s.DSN); err != nil || db != "app" {
		t.Fatalf("query: db=%q err=%v", db, err)
	}
	tree := Tree(s.Pid())
	if len(tree) < 2 {
		t.Errorf("process tree %v, want postmaster and its workers", tree)
	}

	// Crash and come back with the same data.
	if err := s.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Running() || len(leftovers(tree)) != 0 {
		t.Fatalf("still running after Kill: %v", leftovers(tree))
	}
	qctx, qcancel := context.WithTimeout(ctx, time.Second)
	if _, err := query(qctx, s.DSN); err == nil {
		t.Error("query succeeded while killed")
	}
	qcancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if db, err := query(ctx, s.DSN); err != nil || db != "app" {
		t.Fatalf("after restart: db=%q err=%v", db, err)
	}

	// Paused: a query cannot finish; resumed: it can.
	if err := s.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	qctx, qcancel = context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = query(qctx, s.DSN)
	qcancel()
	if err == nil {
		t.Error("query succeeded while paused")
	}
	if err := s.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := query(ctx, s.DSN); err != nil {
		t.Fatalf("after resume: %v", err)
	}

	tree, dir := Tree(s.Pid()), s.Dir
	// A SIGKILL leaves the System V segment behind: Stop must release it.
	_ = s.Kill(ctx)
	shm := SharedMemoryIDs(dir)
	if len(shm) != 1 || !SharedMemoryExists(shm[0]) {
		t.Fatalf("shared memory after SIGKILL: %v", shm)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if SharedMemoryExists(shm[0]) {
		t.Errorf("shared memory segment %d survived Stop", shm[0])
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if m := leftovers(tree); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir %s still there: %v", dir, err)
	}
}

func TestPostgresStopWhilePaused(t *testing.T) {
	need(t, PostgresBinDir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Postgres(ctx, PostgresOptions{Database: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if db, err := query(ctx, s.DSN); err != nil || db != "other" {
		t.Fatalf("db=%q err=%v", db, err)
	}
	tree := Tree(s.Pid())
	_ = s.Pause(ctx)
	begin := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > StopGrace {
		t.Errorf("Stop of a paused server took %v", time.Since(begin))
	}
	if m := leftovers(tree); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
}

func TestRedisLifecycle(t *testing.T) {
	need(t, RedisBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Redis(ctx, RedisOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if err := RedisPing(ctx, s.Addr); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	if err := RedisPing(pctx, s.Addr); err == nil {
		t.Error("PING answered while paused")
	}
	pcancel()
	_ = s.Resume(ctx)
	if err := RedisPing(ctx, s.Addr); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	if err := s.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := RedisPing(ctx, s.Addr); err == nil {
		t.Error("PING answered after Kill")
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid, dir := s.Pid(), s.Dir
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	_ = s.Stop()
	if Alive(pid) {
		t.Errorf("redis %d still alive", pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dir %s still there", dir)
	}
}

func TestMissingBinaries(t *testing.T) {
	t.Setenv("FAULTLINE_PG_BINDIR", t.TempDir())
	_, err := Postgres(context.Background(), PostgresOptions{})
	if !errors.Is(err, ErrMissingBinary) || !strings.Contains(err.Error(), "postgresql") || !strings.Contains(err.Error(), "make deps") {
		t.Errorf("postgres: %v", err)
	}
	_, err = Redis(context.Background(), RedisOptions{Binary: "/nonexistent/redis-server"})
	if !errors.Is(err, ErrMissingBinary) || !strings.Contains(err.Error(), "redis-server") || !strings.Contains(err.Error(), "make deps") {
		t.Errorf("redis: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := RedisBinary(); !errors.Is(err, ErrMissingBinary) {
		t.Errorf("RedisBinary with empty PATH: %v", err)
	}
}

func TestPgVersionOrder(t *testing.T) {
	tests := []struct {
		dir  string
		want int
	}{
		{"/usr/lib/postgresql/15/bin", 15000},
		{"/usr/lib/postgresql/9.6/bin", 9006},
		{"/usr/lib/postgresql/16/bin", 16000},
	}
	for _, tt := range tests {
		if got := pgVersionOf(tt.dir); got != tt.want {
			t.Errorf("pgVersionOf(%q) = %d, want %d", tt.dir, got, tt.want)
		}
	}
}

func TestUnexpectedExitIsReported(t *testing.T) {
	need(t, RedisBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Redis(ctx, RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	exits := make(chan error, 2)
	s.OnUnexpectedExit(func(err error) { exits <- err })
	if err := s.Kill(ctx); err != nil { // asked for: not reported
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A crash nobody asked for: SIGKILL from outside.
	if err := syscall.Kill(s.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exits:
		if err == nil {
			t.Error("exit reported without its error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("unexpected exit not reported")
	}
	if len(exits) != 0 {
		t.Error("the requested Kill was reported too")
	}
}
