package localserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configure Postgres.
type PostgresOptions struct {
	Dir      string    // parent directory for the data directory; a temp dir when empty
	Port     int       // 0 picks a free port
	Database string    // created after start; default "app"
	Log      io.Writer // server output; ignored when LogFile is set
	LogFile  string    // append server output to this file
	// BinDir overrides where initdb and postgres live (default: newest /usr/lib/postgresql/*/bin,
	// or $FAULTLINE_PG_BINDIR).
	BinDir string
	// CacheDir holds the initdb template (default os.UserCacheDir()/faultline).
	CacheDir string
}

// PostgresLabSettings are the durability settings of every lab PostgreSQL, on every backend
// (these local servers, docker-compose.yml's databases, the containers backend's). fsync=off is
// safe for a lab (a SIGKILL loses nothing the OS already holds) and keeps a commit from waiting
// on the disk: with fsync on, the Docker paths' INSERTs took 100-200 ms while the host flushed
// (the smoke's create p99 < 200 ms failed by that). synchronous_commit stays on: off
// acknowledges commits whose WAL is still in PostgreSQL's own memory, and a crash fault then
// loses acknowledged links — a loss the lab would blame on the system under test.
var PostgresLabSettings = []string{"fsync=off", "synchronous_commit=on", "full_page_writes=off"}

// PostgresLabArgs are PostgresLabSettings as postgres command-line arguments (-c k=v ...).
func PostgresLabArgs() []string {
	var out []string
	for _, s := range PostgresLabSettings {
		out = append(out, "-c", s)
	}
	return out
}

const pgMissing = "PostgreSQL binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin: install the Debian package postgresql (run `make deps`)"

// PostgresBinDir finds the newest PostgreSQL bin directory, or says what to install.
func PostgresBinDir() (string, error) {
	if d := os.Getenv("FAULTLINE_PG_BINDIR"); d != "" {
		return d, checkPGBin(d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersionOf(dirs[i]) > pgVersionOf(dirs[j]) })
	for _, d := range dirs {
		if checkPGBin(d) == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if checkPGBin(d) == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrMissingBinary, pgMissing)
}

func checkPGBin(dir string) error {
	for _, b := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return fmt.Errorf("%w: %s (looked in %s)", ErrMissingBinary, pgMissing, dir)
		}
	}
	return nil
}

// pgVersionOf turns /usr/lib/postgresql/15/bin into 15000 (16.2 into 16002) for sorting.
func pgVersionOf(binDir string) int {
	v := filepath.Base(filepath.Dir(binDir))
	major, minor, _ := strings.Cut(v, ".")
	a, _ := strconv.Atoi(major)
	b, _ := strconv.Atoi(minor)
	return a*1000 + b
}

// pgCredential is the identity PostgreSQL runs as: itself when not root, user postgres when
// root (PostgreSQL refuses to run as root).
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("localserver: running as root needs the system user postgres (install the Debian package postgresql, `make deps`): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// Postgres starts a PostgreSQL server on 127.0.0.1 from a cached initdb template and creates
// the database; it returns once clients can connect to it.
func Postgres(ctx context.Context, o PostgresOptions) (*Server, error) {
	bin := o.BinDir
	if bin == "" {
		var err error
		if bin, err = PostgresBinDir(); err != nil {
			return nil, err
		}
	} else if err := checkPGBin(bin); err != nil {
		return nil, err
	}
	if o.Database == "" {
		o.Database = defaultDatabase
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	tmpl, err := pgTemplate(ctx, bin, o.CacheDir, cred)
	if err != nil {
		return nil, err
	}
	parent, rm, err := serverDir(o.Dir, "faultline-pg-", cred)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(parent, "data")
	if out, err := exec.CommandContext(ctx, "cp", "-a", tmpl, data).CombinedOutput(); err != nil {
		_ = os.RemoveAll(rm)
		return nil, fmt.Errorf("localserver: copy postgres template: %w: %s", err, out)
	}
	if err := chownTree(data, cred); err != nil {
		_ = os.RemoveAll(rm)
		return nil, err
	}
	out, closeOut, tail, err := openLog(o.Log, o.LogFile)
	if err != nil {
		_ = os.RemoveAll(rm)
		return nil, err
	}
	// Unix sockets have a short path limit; TCP is what everyone uses here anyway.
	sock := data
	if len(sock) > 80 {
		sock = ""
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := o.Port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				break
			}
		}
		s := &Server{
			Name: "postgres", Addr: hostPort(port), Dir: data,
			DSN:  fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", hostPort(port), o.Database),
			path: filepath.Join(bin, "postgres"),
			args: append([]string{"-D", data, "-p", strconv.Itoa(port), "-k", sock,
				"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
				// Segments under the data dir go with it; posix ones would outlive a SIGKILL in /dev/shm.
				"-c", "dynamic_shared_memory_type=mmap"}, PostgresLabArgs()...),
			cred: cred, stopSig: syscall.SIGINT, // SIGINT is PostgreSQL's fast shutdown
			out: out, closeOut: closeOut, tail: tail, rmDir: rm,
			afterExit: func() { ReleaseSharedMemory(data) },
		}
		admin := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&connect_timeout=2", s.Addr)
		s.ready = func(ctx context.Context) error { return pgPing(ctx, admin) }
		s.mu.Lock()
		err = s.spawn()
		s.mu.Unlock()
		if err != nil {
			lastErr = err
			break
		}
		if err = s.waitReady(ctx, 30*time.Second); err != nil {
			lastErr = err
			_ = s.Kill(context.Background())
			if o.Port != 0 || ctx.Err() != nil || !strings.Contains(tail.String(), "could not bind") {
				break
			}
			continue // the free port was taken meanwhile: try another
		}
		if o.Database != defaultDatabase { // the template has the default one already
			if err := createDatabase(ctx, admin, o.Database); err != nil {
				_ = s.Stop()
				return nil, err
			}
		}
		s.ready = func(ctx context.Context) error { return pgPing(ctx, s.DSN) }
		return s, nil
	}
	if closeOut != nil {
		_ = closeOut()
	}
	ReleaseSharedMemory(parent) // the failed attempts were killed, not shut down
	_ = os.RemoveAll(rm)
	if lastErr == nil {
		lastErr = err
	}
	return nil, lastErr
}

func pgPing(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func createDatabase(ctx context.Context, adminDSN, name string) error {
	if name == "postgres" {
		return nil
	}
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("localserver: connect postgres: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("localserver: create database %q: %w", name, err)
	}
	return nil
}

// pgTemplate returns a data directory made by initdb once per PostgreSQL version and cached;
// a file lock keeps concurrent starters from racing and the rename makes it appear whole.
func pgTemplate(ctx context.Context, bin, cacheDir string, cred *syscall.Credential) (string, error) {
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "faultline")
	}
	ver := filepath.Base(filepath.Dir(bin))
	if ver == "" || ver == "." || ver == "/" {
		ver = "local"
	}
	// The suffix names the template's recipe: change it when the recipe changes.
	final := filepath.Join(cacheDir, "pg-template-"+ver+"-"+templateRecipe)
	if pgTemplateOK(final) {
		return final, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("localserver: cache dir: %w", err)
	}
	lock, err := os.OpenFile(final+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("localserver: template lock: %w", err)
	}
	defer lock.Close()
	if err := flock(ctx, lock); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if pgTemplateOK(final) {
		return final, nil
	}
	_ = os.RemoveAll(final) // a half-made one from a crash before the rename cannot exist, but be sure

	// initdb runs as the postgres user, which cannot enter a root-only cache dir: build in a
	// temp dir it owns, then copy into the cache and rename into place.
	work, rm, err := serverDir("", "faultline-initdb-", cred)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(rm)
	data := filepath.Join(work, "data")
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "--no-sync", "-E", "UTF8", "--no-locale", "--wal-segsize=1")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("localserver: initdb: %w: %s", err, out)
	}
	if err := precreateDatabase(ctx, bin, data, cred, defaultDatabase); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.tmp-%d", final, os.Getpid())
	_ = os.RemoveAll(tmp)
	if out, err := exec.CommandContext(ctx, "cp", "-a", data, tmp).CombinedOutput(); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("localserver: cache template: %w: %s", err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("localserver: cache template: %w", err)
	}
	return final, nil
}

const (
	defaultDatabase = "app"
	// templateRecipe: 1 MB WAL segments (a smaller copy), database "app" made in advance.
	templateRecipe = "v2"
)

// precreateDatabase starts PostgreSQL once on the fresh template to create the default
// database, so a start from the template has nothing left to do but start.
func precreateDatabase(ctx context.Context, bin, data string, cred *syscall.Credential, name string) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	tail := &tailBuffer{max: 4096}
	s := &Server{
		Name: "postgres-template", Addr: hostPort(port), Dir: data, path: filepath.Join(bin, "postgres"),
		args: []string{"-D", data, "-p", strconv.Itoa(port), "-k", "", "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
			"-c", "dynamic_shared_memory_type=mmap"},
		cred: cred, stopSig: syscall.SIGINT, out: tail, tail: tail,
	}
	admin := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&connect_timeout=2", s.Addr)
	s.ready = func(ctx context.Context) error { return pgPing(ctx, admin) }
	s.mu.Lock()
	err = s.spawn()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	defer s.Stop() // SIGINT: a fast, clean shutdown with a checkpoint
	if err := s.waitReady(ctx, 30*time.Second); err != nil {
		return err
	}
	return createDatabase(ctx, admin, name)
}

func pgTemplateOK(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "PG_VERSION"))
	return err == nil
}

func flock(ctx context.Context, f *os.File) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("localserver: lock template: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localserver: lock template: timed out")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localserver: lock template: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serverDir makes a fresh directory for one server under parent (a temp dir when empty) that
// the server's user owns and can reach. It returns the directory and what to remove later.
func serverDir(parent, prefix string, cred *syscall.Credential) (dir, remove string, err error) {
	if parent != "" && cred != nil && !reachable(parent, cred) {
		// The postgres user cannot walk into parent (e.g. a 0700 root test dir): use /tmp.
		parent = ""
	}
	if parent == "" {
		parent = TempBase()
	}
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return "", "", fmt.Errorf("localserver: dir: %w", err)
		}
	}
	dir, err = os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", "", fmt.Errorf("localserver: dir: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return "", "", fmt.Errorf("localserver: chown %s: %w", dir, err)
		}
	}
	return dir, dir, nil
}

// TempBase is where throwaway server data goes: /dev/shm when it is a writable tmpfs (a
// template copy there takes 0.06 s instead of 0.6 s on a busy disk), else the temp dir.
func TempBase() string {
	var st syscall.Statfs_t
	const tmpfsMagic = 0x01021994
	if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Type == tmpfsMagic && syscall.Access("/dev/shm", 2) == nil {
		return "/dev/shm"
	}
	return os.TempDir()
}

// reachable reports whether cred's user may traverse every directory down to path.
func reachable(path string, cred *syscall.Credential) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for p := abs; ; p = filepath.Dir(p) {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err == nil {
			mode := st.Mode
			ok := (st.Uid == cred.Uid && mode&0o100 != 0) ||
				(st.Gid == cred.Gid && mode&0o010 != 0) || mode&0o001 != 0
			if !ok {
				return false
			}
		} else if !errors.Is(err, syscall.ENOENT) {
			return false
		}
		if p == "/" || p == "." {
			return true
		}
	}
}

func chownTree(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("localserver: chown %s: %w", p, err)
		}
		return nil
	})
}

// ReleaseSharedMemory removes the System V shared memory segments that PostgreSQL servers
// killed with SIGKILL left behind under dir (found through their postmaster.pid files). A
// clean shutdown removes its own; a restart on the same data dir does too, but a data dir
// that is deleted after a SIGKILL would leave them in the kernel for good.
func ReleaseSharedMemory(dir string) {
	for _, seg := range pgSegments(dir) {
		if !Alive(seg.pid) { // a live server still uses its segment
			_ = exec.Command("ipcrm", "-m", strconv.Itoa(seg.shmid)).Run()
		}
	}
}

// SharedMemoryIDs lists the System V segment ids recorded by PostgreSQL servers under dir.
func SharedMemoryIDs(dir string) []int {
	var ids []int
	for _, seg := range pgSegments(dir) {
		ids = append(ids, seg.shmid)
	}
	return ids
}

// SharedMemoryExists reports whether a System V segment exists (from /proc/sysvipc/shm).
func SharedMemoryExists(shmid int) bool {
	b, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == strconv.Itoa(shmid) {
			return true
		}
	}
	return false
}

type pgSegment struct{ pid, shmid int }

// pgSegments reads the postmaster.pid files at most two levels under dir; line 7 holds
// "key shmid".
func pgSegments(dir string) []pgSegment {
	var out []pgSegment
	for _, pattern := range []string{"postmaster.pid", "*/postmaster.pid", "*/*/postmaster.pid"} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			lines := strings.Split(string(b), "\n")
			if len(lines) < 7 {
				continue
			}
			pid, err1 := strconv.Atoi(strings.TrimSpace(lines[0]))
			fields := strings.Fields(lines[6])
			if err1 != nil || len(fields) < 2 {
				continue
			}
			if id, err := strconv.Atoi(fields[1]); err == nil {
				out = append(out, pgSegment{pid, id})
			}
		}
	}
	return out
}
