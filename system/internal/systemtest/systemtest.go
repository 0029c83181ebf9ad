// Package systemtest starts what the services' integration tests need (PostgreSQL, Redis, NATS
// and the services themselves, in-process) and cleans it up with the test. Import it only from
// _test.go files.
//
// A missing server binary fails the test on CI (CI=true) and skips it elsewhere, naming the
// Debian package and `make deps`; -short skips every test that starts a server.
package systemtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/system/internal/natsd"
)

// Bounds of one service's start and stop.
const (
	ReadyWithin = 30 * time.Second
	StopWithin  = 20 * time.Second
	poll        = 20 * time.Millisecond
)

// Integration skips t under -short.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
}

// Require stops t when err is not nil: a missing binary fails it on CI and skips it elsewhere
// (naming the Debian package pkg), any other error fails it.
func Require(t testing.TB, err error, pkg string) {
	t.Helper()
	if errors.Is(err, localserver.ErrMissingBinary) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (Debian package %s; run `make deps`)", err, pkg)
		}
		t.Skipf("%v (Debian package %s; run `make deps`)", err, pkg)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// Postgres starts a PostgreSQL server of its own for t, stopped when t ends.
func Postgres(t testing.TB) *localserver.Server {
	t.Helper()
	Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pg, err := localserver.Postgres(ctx, localserver.PostgresOptions{Dir: t.TempDir()})
	Require(t, err, "postgresql")
	t.Cleanup(func() { _ = pg.Stop() })
	return pg
}

// One PostgreSQL server for a test binary's Database calls, stopped by Main.
var shared struct {
	once sync.Once
	srv  *localserver.Server
	dir  string
	err  error
	seq  atomic.Int32
}

// Database returns the DSN of a fresh database on a PostgreSQL server shared by the test
// binary: cheaper than Postgres when a package has many tests. Its TestMain must call Main.
func Database(t testing.TB) string {
	t.Helper()
	Integration(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if shared.dir, shared.err = os.MkdirTemp("", "systemtest-pg-"); shared.err != nil {
			return
		}
		shared.srv, shared.err = localserver.Postgres(ctx, localserver.PostgresOptions{Dir: shared.dir})
	})
	Require(t, shared.err, "postgresql")
	name := fmt.Sprintf("test%d", shared.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, shared.srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(shared.srv.DSN, "/app?", "/"+name+"?", 1)
}

// Main runs the tests, then stops the server Database shared.
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		_ = shared.srv.Stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// Redis starts a redis-server (no persistence) for t, stopped when t ends.
func Redis(t testing.TB) *localserver.Server {
	t.Helper()
	Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := localserver.Redis(ctx, localserver.RedisOptions{Dir: t.TempDir()})
	Require(t, err, "redis-server")
	t.Cleanup(func() { _ = rs.Stop() })
	return rs
}

// NATS starts an embedded NATS server with JetStream on a free port, shut down when t ends.
func NATS(t testing.TB) *natsd.Server {
	t.Helper()
	ns, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// RunFunc is a service's Run (system.RunFunc).
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error

// Service is a service running in-process for a test.
type Service struct {
	Name string
	URL  string // http://host:port
	logs *SyncBuffer
	stop func() error
}

// Start runs run with the environment env (flags come from it) until t ends, on env's
// LISTEN_ADDR or a free port, and waits until readyPath answers 200. At cleanup the service
// must stop cleanly within StopWithin; its logs are shown when t failed.
func Start(t testing.TB, name string, run RunFunc, env map[string]string, readyPath string) *Service {
	t.Helper()
	e := map[string]string{"LOG_FORMAT": "text"}
	for k, v := range env {
		e[k] = v
	}
	if e["LISTEN_ADDR"] == "" {
		port, err := localserver.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		e["LISTEN_ADDR"] = "127.0.0.1:" + strconv.Itoa(port)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &SyncBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return e[k] }, logs) }()
	var once sync.Once
	var runErr error
	s := &Service{Name: name, URL: "http://" + e["LISTEN_ADDR"], logs: logs}
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(StopWithin):
				runErr = fmt.Errorf("%s did not stop within %v", name, StopWithin)
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("%s: Run returned %v on shutdown", name, err)
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, logs.String())
		}
	})
	s.waitReady(t, readyPath, errc)
	return s
}

// waitReady polls path until it answers 200, failing early if the service exited.
func (s *Service) waitReady(t testing.TB, path string, died <-chan error) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(ReadyWithin)
	last := ""
	for {
		select {
		case err := <-died:
			t.Fatalf("%s exited while starting: %v\n%s", s.Name, err, s.logs.String())
		default:
		}
		resp, err := client.Get(s.URL + path)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not 200 within %v (last: %s)\n%s", s.Name, path, ReadyWithin, last, s.logs.String())
		}
		time.Sleep(poll)
	}
}

// Stop cancels the service's context and returns what its Run returned; later calls return
// the same.
func (s *Service) Stop() error { return s.stop() }

// Logs returns what the service logged so far.
func (s *Service) Logs() string { return s.logs.String() }

// SyncBuffer is a bytes.Buffer safe to write from one goroutine (a service's logger) while
// another (the test) reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *SyncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *SyncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// NoFollow is an HTTP client that returns redirects instead of following them.
var NoFollow = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Metric returns the value of the first sample of name on base's /metrics whose labels contain
// every one of labels (each a substring like `result="hit"`), or 0 when there is none.
func Metric(t testing.TB, base, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:\{([^}]*)\})? (\S+)$`)
next:
	for _, m := range re.FindAllSubmatch(body, -1) {
		for _, l := range labels {
			if !bytes.Contains(m[1], []byte(l)) {
				continue next
			}
		}
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		return v
	}
	return 0
}

// Eventually polls cond until it reports done, failing t after within; cond's state (what it
// saw last) goes into the failure.
func Eventually(t testing.TB, what string, within time.Duration, cond func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last: %s)", what, within, state)
		}
		time.Sleep(poll)
	}
}
