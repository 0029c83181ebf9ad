package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// toyModule writes a module whose tests check how scripts/gotest.sh ran them: the two listed
// as parallel wait for each other (they fail when run one after the other), the others fail
// when anything else runs beside them, and each reads a file relative to its package.
func toyModule(t *testing.T) (dir, shared string) {
	t.Helper()
	dir, shared = t.TempDir(), t.TempDir()
	par := `package %s
import ("os"; "path/filepath"; "testing"; "time")
func TestTogether(t *testing.T) {
	s := os.Getenv("TOY_SHARED")
	mine := filepath.Join(s, "par-%s")
	if err := os.WriteFile(mine, nil, 0o644); err != nil { t.Fatal(err) }
	defer os.Remove(mine)
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(s, "par-%s")); err == nil { break }
		if time.Now().After(end) { t.Fatal("the other parallel package never ran beside this one") }
	}
	time.Sleep(100 * time.Millisecond)
}
`
	alone := `package %s
import ("os"; "path/filepath"; "testing"; "time")
func TestAlone(t *testing.T) {
	if b, err := os.ReadFile("testdata/hello"); err != nil || string(b) != "%s" {
		t.Fatalf("not run from its package directory: %%q %%v", b, err)
	}
	s := os.Getenv("TOY_SHARED")
	f, err := os.OpenFile(filepath.Join(s, "alone"), os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil { t.Fatal("another package runs beside this one") }
	f.Close()
	defer os.Remove(filepath.Join(s, "alone"))
	if m, _ := filepath.Glob(filepath.Join(s, "par-*")); len(m) > 0 { t.Fatalf("runs beside %%v", m) }
	time.Sleep(200 * time.Millisecond)
}
`
	files := map[string]string{
		"go.mod":                   "module toy\n\ngo 1.21\n",
		"par1/p_test.go":           fmt.Sprintf(par, "par1", "par1", "par2"),
		"par2/p_test.go":           fmt.Sprintf(par, "par2", "par2", "par1"),
		"x/explore/e_test.go":      fmt.Sprintf(alone, "explore", "x"),
		"x/explore/testdata/hello": "x",
		"y/explore/e_test.go":      fmt.Sprintf(alone, "explore", "y"),
		"y/explore/testdata/hello": "y",
		"par3/p_test.go":           "package par3\nimport \"testing\"\nfunc TestFails(t *testing.T) { t.Fatal(\"a parallel package fails\") }\n",
		"bad/b_test.go":            "package bad\nimport \"testing\"\nfunc TestBad(t *testing.T) { t.Fatal(\"this package fails\") }\n",
		"broken/b_test.go":         "package broken\nimport \"testing\"\nfunc TestBroken(t *testing.T) { undefined() }\n",
		"notests/n.go":             "package notests\n",
		"cmd/tool/main.go":         "package main\nfunc main() {}\n",
		"cmd/tool/main_test.go":    "package main\nimport \"testing\"\nfunc TestMain(m *testing.M) { m.Run() }\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, shared
}

// scripts/gotest.sh builds every test binary once and runs it from its package's directory:
// the listed packages two at a time, the others alone; a failing or unbuildable package is
// FAIL with its output and the exit status 1; two packages of one name both run.
func TestGotestScript(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "gotest.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir, shared := toyModule(t)
	run := func(pkgs ...string) (string, int) {
		cmd := exec.Command("bash", append([]string{script, "-timeout", "2m"}, pkgs...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GO_TEST_PARALLEL=./par1 ./par2 ./par3", "TOY_SHARED="+shared, "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	text, code := run("./...")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (packages failed); output:\n%s", code, text)
	}
	for _, want := range []string{
		`(?m)^ok  \ttoy/par1\t\d+\.\d+s$`, `(?m)^ok  \ttoy/par2\t\d+\.\d+s$`,
		`(?m)^ok  \ttoy/x/explore\t\d+\.\d+s$`, `(?m)^ok  \ttoy/y/explore\t\d+\.\d+s$`,
		`(?m)^\?   \ttoy/notests\t\[no test files\]$`, `(?m)^ok  \ttoy/cmd/tool\t`,
		`this package fails`, `(?m)^FAIL\ttoy/bad\t`, `a parallel package fails`, `(?m)^FAIL\ttoy/par3\t`,
		`(?m)^FAIL\ttoy/broken \[build failed\]$`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("output lacks %s:\n%s", want, text)
		}
	}
	// The exit status is the verdict: 0 only when every package passed, and a failure in the
	// parallel group counts as much as one run alone.
	if text, code := run("./par1", "./par2", "./x/explore"); code != 0 {
		t.Errorf("passing packages: exit %d, want 0:\n%s", code, text)
	}
	if text, code := run("./par3"); code != 1 {
		t.Errorf("a failing parallel package: exit %d, want 1:\n%s", code, text)
	}
	if strings.Contains(text, "runs beside") || strings.Contains(text, "never ran beside") {
		t.Errorf("packages ran together that must not, or apart that should not:\n%s", text)
	}
}
