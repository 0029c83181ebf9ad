package lab

import (
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// binary is the faultline binary built once by TestMain ("" when the build failed).
var (
	binary   string
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "faultline-bin-")
	if err == nil && !testing.Short() { // -short runs no servers: no binary needed
		binary = filepath.Join(dir, "faultline")
		out, err := exec.Command("go", "build", "-o", binary, "../cmd/faultline").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
			binary = ""
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// needStores fails on CI and skips elsewhere when PostgreSQL or Redis is not installed.
func needStores(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no servers")
	}
	for _, find := range []func() (string, error){localserver.PostgresBinDir, localserver.RedisBinary} {
		if _, err := find(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
	}
}

// needBinary needs the faultline binary; needServices also needs `faultline serve` to work.
func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no servers")
	}
	if binary == "" {
		t.Fatalf("go build ./cmd/faultline failed: %v", buildErr)
	}
}

// watcher records every descendant of the test process while it runs, so a test can check
// afterwards that none survived (PostgreSQL backends leave the process group, and would be
// missed by a group check).
type watcher struct {
	mu   sync.Mutex
	seen map[int]uint64
	stop chan struct{}
	done chan struct{}
}

func watch() *watcher {
	w := &watcher{seen: map[int]uint64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; i < 100000; i++ {
			w.snap()
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *watcher) snap() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range localserver.Tree(os.Getpid())[1:] {
		if _, ok := w.seen[p]; !ok {
			st, _ := localserver.StartTime(p)
			w.seen[p] = st
		}
	}
}

// leftovers stops watching and returns the processes it saw that are still alive, waiting
// a little for processes that are on their way out.
func (w *watcher) leftovers() []int {
	close(w.stop)
	<-w.done
	var left []int
	for i := 0; i < 100; i++ {
		left = left[:0]
		for p, st := range w.seen {
			if got, ok := localserver.StartTime(p); ok && got == st && localserver.Alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	sort.Ints(left)
	return left
}

func (w *watcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func storesOptions(t *testing.T) Options {
	return Options{
		Dir: t.TempDir(), Components: []string{"link-db", "analytics-db", "redis"},
		StateDir: t.TempDir(), Log: testLog{t},
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func pgQuery(ctx context.Context, dsn string) (time.Duration, error) {
	start := time.Now()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "select 1").Scan(&n); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func proxiedDSN(l *Lab, edge string) string {
	return "postgres://postgres@" + l.ProxyAddr(edge) + "/app?sslmode=disable&connect_timeout=2"
}

func TestStoresBehindProxiesFaultsAndTeardown(t *testing.T) {
	needStores(t)
	w := watch()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := storesOptions(t)
	l, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	env := l.Env()
	dsn := proxiedDSN(l, "link->link-db")

	base, err := pgQuery(ctx, dsn)
	if err != nil {
		t.Fatalf("query through link->link-db: %v", err)
	}
	if _, err := pgQuery(ctx, l.Direct("analytics-db")); err != nil {
		t.Fatalf("direct analytics-db: %v", err)
	}

	// Latency on the edge: a new connection plus a query costs several round trips.
	lat, _ := toxics.New("latency", map[string]any{"latency": "50ms"})
	undo, err := lat.Apply(ctx, env, "link->link-db")
	if err != nil {
		t.Fatal(err)
	}
	slow, err := pgQuery(ctx, dsn)
	if err != nil || slow < base+100*time.Millisecond {
		t.Errorf("with 50ms latency: %v (baseline %v) err %v", slow, base, err)
	}
	_ = undo(ctx)

	// Partition: refused; heal: back.
	part, _ := toxics.New("partition", nil)
	if _, err := part.Apply(ctx, env, "link->link-db"); err != nil {
		t.Fatal(err)
	}
	if _, err := pgQuery(ctx, dsn); err == nil {
		t.Error("query passed a partitioned edge")
	}
	st := l.Status(ctx)
	for _, e := range st.Edges {
		if e.Name == "link->link-db" && e.Enabled {
			t.Error("status shows the partitioned edge enabled")
		}
	}
	// Crash analytics-db, pause redis, add a toxic: HealAll must undo all of it.
	crash, _ := toxics.New("crash", nil)
	if _, err := crash.Apply(ctx, env, "analytics-db"); err != nil {
		t.Fatal(err)
	}
	pause, _ := toxics.New("pause", nil)
	if _, err := pause.Apply(ctx, env, "redis"); err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if err := localserver.RedisPing(pctx, l.ProxyAddr("redirect->redis")); err == nil {
		t.Error("redis answered while paused")
	}
	pcancel()
	if _, err := toxics.New("reset_peer", nil); err != nil {
		t.Fatal(err)
	}
	rp, _ := toxics.New("reset_peer", nil)
	if _, err := rp.Apply(ctx, env, "analytics->analytics-db"); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, c := range l.Status(ctx).Components {
		states[c.Name] = c.State
	}
	if states["analytics-db"] != "crashed" || states["redis"] != "paused" || states["link-db"] != "ready" || states["gateway"] != "not started" {
		t.Errorf("status %v", states)
	}
	if err := l.HealAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pgQuery(ctx, dsn); err != nil {
		t.Errorf("after heal, link-db: %v", err)
	}
	if _, err := pgQuery(ctx, proxiedDSN(l, "analytics->analytics-db")); err != nil {
		t.Errorf("after heal, analytics-db: %v", err)
	}
	if err := localserver.RedisPing(ctx, l.ProxyAddr("redirect->redis")); err != nil {
		t.Errorf("after heal, redis: %v", err)
	}
	for _, e := range l.Status(ctx).Edges {
		if !e.Enabled || len(e.Toxics) > 0 {
			t.Errorf("after heal: %+v", e)
		}
	}

	statePath, tmp := l.StatePath(), l.tmp
	if _, err := os.Stat(statePath); err != nil {
		t.Errorf("no state file while running: %v", err)
	}
	if w.count() < 3 {
		t.Fatalf("watcher saw %d processes", w.count())
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if left := w.leftovers(); len(left) > 0 {
		t.Errorf("processes left after Close: %v", left)
	}
	assertGone(t, l, statePath, tmp)
	if _, err := os.Stat(filepath.Join(o.Dir, "logs", "link-db.log")); err != nil {
		t.Errorf("run dir logs: %v", err)
	}
}

// assertGone checks what must not survive a lab: ports, temp dir, state file.
func assertGone(t *testing.T, l *Lab, statePath, tmp string) {
	t.Helper()
	for _, c := range topology.Components() {
		if portOpen(l.addr(c)) {
			t.Errorf("%s still listening on %s", c, l.addr(c))
		}
	}
	for edge, addr := range l.proxyAddr {
		if portOpen(addr) {
			t.Errorf("proxy %s still listening on %s", edge, addr)
		}
	}
	if portOpen(strings.TrimPrefix(l.toxiURL, "http://")) {
		t.Error("toxiproxy API still listening")
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s survived", tmp)
	}
	if _, err := os.Stat(statePath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file %s survived", statePath)
	}
}

func TestContextCancelTearsDown(t *testing.T) {
	needStores(t)
	w := watch()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := Start(ctx, storesOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	statePath, tmp := l.StatePath(), l.tmp
	cancel() // what Ctrl-C does
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(statePath); errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = l.Close(context.Background()) // waits for the teardown the cancel began
	if left := w.leftovers(); len(left) > 0 {
		t.Errorf("processes left after cancel: %v", left)
	}
	assertGone(t, l, statePath, tmp)
}

func TestStartErrorLeavesNothing(t *testing.T) {
	needStores(t)
	w := watch()
	o := storesOptions(t)
	// link starts once link-db is up; /bin/false exits at once, so Start fails late, after
	// the stores are running: they must all go.
	o.Components = []string{"link-db", "redis", "link"}
	o.Binary = "/bin/false"
	o.ReadyTimeout = 5 * time.Second
	l, err := Start(context.Background(), o)
	if err == nil {
		l.Close(context.Background())
		t.Fatal("Start succeeded with a binary that exits")
	}
	if !strings.Contains(err.Error(), "link") {
		t.Errorf("error does not name the component: %v", err)
	}
	if w.count() < 2 {
		t.Errorf("the stores never started (saw %d processes)", w.count())
	}
	if left := w.leftovers(); len(left) > 0 {
		t.Errorf("processes left after a failed Start: %v", left)
	}
	if files, _ := filepath.Glob(filepath.Join(o.StateDir, "*.json")); len(files) > 0 {
		t.Errorf("state files left: %v", files)
	}
}

func TestUnknownComponent(t *testing.T) {
	_, err := Start(context.Background(), Options{Components: []string{"mainframe"}, StateDir: t.TempDir()})
	if !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("err = %v", err)
	}
}

func TestMissingBinariesOneClearMessage(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server
	t.Setenv("FAULTLINE_PG_BINDIR", t.TempDir())
	_, err := Start(context.Background(), Options{StateDir: t.TempDir(), Binary: "/nonexistent/faultline"})
	if !errors.Is(err, localserver.ErrMissingBinary) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"Debian package postgresql", "Debian package redis-server", "make deps", "/nonexistent/faultline"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}
