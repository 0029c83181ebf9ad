package mutants

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Module is the module path a source tree must declare to be patched.
const Module = "github.com/faultline/faultline"

// ErrNoSource marks a directory that is not (inside) a checkout of the faultline module.
var ErrNoSource = errors.New("mutants: no faultline source tree")

// FindSource returns the root of the faultline module containing dir: the nearest directory
// upwards whose go.mod declares Module.
func FindSource(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("mutants: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if f, err := os.Open(filepath.Join(d, "go.mod")); err == nil {
			mod := modulePath(f)
			f.Close()
			if mod == Module {
				return d, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w: no go.mod of %s in %s or above (run from a checkout, or give --source)", ErrNoSource, Module, abs)
		}
	}
}

func modulePath(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// Builder builds a faultline binary from the source tree with one mutant's patch applied, in a
// scratch copy (the tree itself is never touched), and caches the binary by the patch's hash
// for its own lifetime. Close removes everything it made. Safe for concurrent use.
type Builder struct {
	src   string
	dir   string
	mu    sync.Mutex
	built map[string]string // sha256 of the patch → binary
}

// NewBuilder returns a builder over the module rooted at src (see FindSource). It checks that
// git and go are on PATH, since every build needs both.
func NewBuilder(src string) (*Builder, error) {
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("mutants: code mutants need %s on PATH: %w", tool, err)
		}
	}
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoSource, err)
	}
	dir, err := os.MkdirTemp("", "faultline-mutants-")
	if err != nil {
		return nil, fmt.Errorf("mutants: %w", err)
	}
	return &Builder{src: src, dir: dir, built: map[string]string{}}, nil
}

// Close removes the binaries and any scratch copy left; a nil builder is fine.
func (b *Builder) Close() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.built = map[string]string{}
	if err := os.RemoveAll(b.dir); err != nil {
		return fmt.Errorf("mutants: clean up: %w", err)
	}
	return nil
}

// Build returns the path of a faultline binary built with m applied: a copy of the source
// tree's files (tracked and untracked, not ignored: what `go build` in the tree would see),
// `git apply`, then `go build -trimpath` (so unchanged packages come from the shared build
// cache whatever the copy's path). The copy is removed at once, the binary on Close.
func (b *Builder) Build(ctx context.Context, m Mutant) (string, error) {
	sum := sha256.Sum256(m.Patch)
	key := hex.EncodeToString(sum[:])
	b.mu.Lock()
	defer b.mu.Unlock()
	if bin, ok := b.built[key]; ok {
		return bin, nil
	}
	work, err := os.MkdirTemp(b.dir, "src-")
	if err != nil {
		return "", fmt.Errorf("mutants: %s: %w", m.Name, err)
	}
	defer os.RemoveAll(work)
	if err := copyTree(ctx, b.src, work); err != nil {
		return "", fmt.Errorf("mutants: %s: copy %s: %w", m.Name, b.src, err)
	}
	patch := filepath.Join(b.dir, m.Name+"-"+key[:12]+".patch")
	if err := os.WriteFile(patch, m.Patch, 0o644); err != nil {
		return "", fmt.Errorf("mutants: %s: %w", m.Name, err)
	}
	if out, err := command(ctx, work, "git", "apply", "--whitespace=nowarn", patch); err != nil {
		return "", fmt.Errorf("mutants: %s: the patch does not apply to %s (rewrite it against the current code): %w\n%s", m.Name, b.src, err, out)
	}
	bin := filepath.Join(b.dir, "faultline-"+m.Name+"-"+key[:12])
	if out, err := command(ctx, work, "go", "build", "-trimpath", "-o", bin, "./cmd/faultline"); err != nil {
		return "", fmt.Errorf("mutants: %s: go build: %w\n%s", m.Name, err, out)
	}
	b.built[key] = bin
	return bin, nil
}

// Check reports whether m still applies to the source tree (`git apply --check`: nothing is
// written), so a patch cannot rot silently.
func Check(ctx context.Context, src string, m Mutant) error {
	dir, err := os.MkdirTemp("", "faultline-mutant-check-")
	if err != nil {
		return fmt.Errorf("mutants: %w", err)
	}
	defer os.RemoveAll(dir)
	patch := filepath.Join(dir, m.Name+".patch")
	if err := os.WriteFile(patch, m.Patch, 0o644); err != nil {
		return fmt.Errorf("mutants: %w", err)
	}
	if out, err := command(ctx, src, "git", "apply", "--check", "--whitespace=nowarn", patch); err != nil {
		return fmt.Errorf("mutants: %s: does not apply to %s: %w\n%s", m.Name, src, err, out)
	}
	return nil
}

// command runs name in dir in its own process group, killed whole when ctx ends (go build's
// compilers with it), and returns its combined output.
func command(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	// git must not look above dir for a repository: in a scratch copy under a checkout it
	// would apply the patch relative to that checkout's root. go must not pick up a go.work.
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir), "GOWORK=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.Bytes(), fmt.Errorf("%s: %w", name, ctx.Err())
	}
	return out.Bytes(), err
}

// copyTree copies the files git lists in src (tracked, and untracked but not ignored) to dst.
func copyTree(ctx context.Context, src, dst string) error {
	out, err := command(ctx, src, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return fmt.Errorf("list the module's files with git (is %s a git checkout?): %w\n%s", src, err, out)
	}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" {
			continue
		}
		if err := copyFile(filepath.Join(src, rel), filepath.Join(dst, rel)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	fi, err := os.Stat(from)
	if errors.Is(err, os.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
		return nil // deleted in the working tree, or a submodule: not part of the build
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
