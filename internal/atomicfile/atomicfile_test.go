package atomicfile

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	for _, c := range []struct {
		name string
		data string
		perm os.FileMode
	}{
		{"creates", "one\n", 0o644},
		{"replaces", "two\n", 0o600},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := WriteFile(path, []byte(c.data), c.perm); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != c.data {
				t.Fatalf("read %q, %v; want %q", b, err, c.data)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != c.perm {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), c.perm)
			}
			onlyFile(t, dir, "a.json")
		})
	}
}

func TestFailedWriteLeavesTheOldFile(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"error after half", func(w io.Writer) error {
			io.WriteString(w, "half of the new")
			return boom
		}},
		{"panic after half", func(w io.Writer) error {
			io.WriteString(w, "half of the new")
			panic(boom)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if err := WriteFile(path, []byte("old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			func() {
				defer func() { recover() }()
				if err := Write(path, 0o644, c.write); err != boom {
					t.Errorf("Write = %v, want the writer's own error", err)
				}
			}()
			if b, _ := os.ReadFile(path); string(b) != "old\n" {
				t.Errorf("after a failed write the file holds %q, want the old content", b)
			}
			onlyFile(t, dir, "state.json")
		})
	}
}

func TestMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "x")
	if err := WriteFile(path, []byte("x"), 0o644); err == nil || !strings.HasPrefix(err.Error(), "atomicfile: write ") {
		t.Errorf("WriteFile into a missing directory = %v, want an atomicfile: error", err)
	}
}

// TestCrashMidWriteLeavesTheOldFile kills (SIGKILL) a writer half way through a new version:
// the file must still hold the old version whole.
func TestCrashMidWriteLeavesTheOldFile(t *testing.T) {
	if path := os.Getenv("ATOMICFILE_CRASH_PATH"); path != "" {
		Write(path, 0o644, func(w io.Writer) error {
			io.WriteString(w, "half of the new version")
			os.Stdout.WriteString("written\n")
			time.Sleep(time.Minute) // killed here
			return nil
		})
		os.Exit(3) // never reached
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	if err := WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidWriteLeavesTheOldFile$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_CRASH_PATH="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("written\n"))
	if _, err := io.ReadFull(out, buf); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("writer did not start: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("after a crash mid-write the file holds %q, want the old content", b)
	}
}

// onlyFile fails when dir holds anything but name (a temporary file left behind).
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != name {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestOneHelper ties every replace-by-rename of the module to this package: another os.Rename
// is a second atomic write, and the copies drifted (no sync, a fixed temp name two writers
// share, a half file left behind on error). The PostgreSQL template cache renames a whole
// directory, built under a lock: a different act, allowed by name.
func TestOneHelper(t *testing.T) {
	allowed := map[string]bool{"internal/localserver/postgres.go": true}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			filepath.Dir(rel) == "internal/atomicfile" || allowed[rel] {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Rename" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" {
					t.Errorf("%s: os.Rename: write through atomicfile.Write or WriteFile", fset.Position(sel.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
