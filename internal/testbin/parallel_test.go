package testbin

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// systemMarkers in a package's tests mean it starts real servers (or is slow enough to skip
// under -short): such a package measures on the real system and must run alone in make test.
var systemMarkers = []string{"NeedSystem(", "needSystem(", "testbin.Path(", "lab.Start(", "localserver.", "FAULTLINE_BIN", "testing.Short()"}

// parallelPackages reads GO_TEST_PARALLEL, the packages make test runs two at a time.
func parallelPackages(makefile string) ([]string, error) {
	b, err := os.ReadFile(makefile)
	if err != nil {
		return nil, err
	}
	m := regexp.MustCompile(`(?m)^GO_TEST_PARALLEL :=((?:[^\n]*\\\n)*[^\n]*)$`).FindSubmatch(b)
	if m == nil {
		return nil, nil
	}
	return strings.Fields(strings.ReplaceAll(string(m[1]), "\\\n", " ")), nil
}

// A package in GO_TEST_PARALLEL shares the 2 cores with another package's tests: none of its
// tests may start the system (those measure latency and run alone), and each listed package
// must exist and have tests, so the list cannot hide a package from make test either.
func TestParallelPackagesStartNoSystem(t *testing.T) {
	root := filepath.Join("..", "..")
	pkgs, err := parallelPackages(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("GO_TEST_PARALLEL lists %d packages (%v): the Makefile's list was not found", len(pkgs), pkgs)
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		if seen[p] {
			t.Errorf("%s listed twice", p)
		}
		seen[p] = true
		if !strings.HasPrefix(p, "./") || strings.Contains(p, "...") {
			t.Errorf("%s: list one package as ./path, never a pattern (a pattern would take in new packages unchecked)", p)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(root, p, "*_test.go"))
		if len(files) == 0 {
			t.Errorf("%s: no test files (a package that does not exist or has no tests)", p)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range systemMarkers {
				if strings.Contains(string(b), m) {
					t.Errorf("%s: %s uses %s: it starts the system or is slow, so it must run alone (remove it from GO_TEST_PARALLEL)", p, filepath.Base(f), m)
				}
			}
		}
	}
}

// The list reader itself: a continued make variable, and none at all.
func TestParallelPackagesReader(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, want string }{
		{"X := 1\nGO_TEST_PARALLEL := ./a ./b \\\n\t./c \\\n\t./d\n\nY := 2\n", "./a ./b ./c ./d"},
		{"GO_TEST_PARALLEL := ./a\n", "./a"},
		{"X := ./a\n", ""},
	} {
		f := filepath.Join(dir, "Makefile")
		if err := os.WriteFile(f, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := parallelPackages(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%q: got %q, want %q", tc.text, got, tc.want)
		}
	}
}
