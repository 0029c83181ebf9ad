package mutants

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The issue asks for at least eight code mutants covering these mechanisms.
var wantPolicies = []string{"timeout", "retry", "breaker", "bulkhead", "rate-limit", "fallback", "outbox", "consumer"}

func TestPatchHeaders(t *testing.T) {
	all := All()
	if len(all) < 8 {
		t.Errorf("%d code mutants, want at least 8", len(all))
	}
	files, _ := filepath.Glob("*.patch")
	if len(files) != len(all) {
		t.Errorf("%d patch files, %d mutants embedded", len(files), len(all))
	}
	covered := map[string]bool{}
	for _, m := range all {
		covered[m.Policy] = true
		if !regexp.MustCompile(`^[a-z][a-z0-9-]*$`).MatchString(m.Name) {
			t.Errorf("%s: name must be lower-case words joined by '-'", m.Name)
		}
		if len(m.Scenarios) == 0 {
			t.Errorf("%s: Caught-by names no scenario", m.Name)
		}
		if got, ok := Get(m.Name); !ok || got.Name != m.Name {
			t.Errorf("Get(%q) = %v, %v", m.Name, got.Name, ok)
		}
	}
	for _, p := range wantPolicies {
		if !covered[p] {
			t.Errorf("no code mutant breaks the %s code", p)
		}
	}
}

var diffPathRE = regexp.MustCompile(`(?m)^diff --git a/(\S+) b/(\S+)$`)

// TestPatchesTouchOnlyTheSystem keeps mutants honest: a bug goes into the services' code, never
// into the lab that judges them nor into a test, and stays small.
func TestPatchesTouchOnlyTheSystem(t *testing.T) {
	for _, m := range All() {
		paths := diffPathRE.FindAllStringSubmatch(string(m.Patch), -1)
		if len(paths) == 0 {
			t.Errorf("%s: no file in the patch", m.Name)
		}
		for _, p := range paths {
			if p[1] != p[2] || !strings.HasPrefix(p[1], "system/internal/") || strings.HasSuffix(p[1], "_test.go") {
				t.Errorf("%s: patches %s -> %s; a mutant may only change non-test code under system/internal/", m.Name, p[1], p[2])
			}
		}
		changed := 0
		for _, line := range strings.Split(string(m.Patch), "\n") {
			if (strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-")) && !strings.HasPrefix(line, "+++") && !strings.HasPrefix(line, "---") {
				changed++
			}
		}
		if changed == 0 || changed > 12 {
			t.Errorf("%s: %d changed lines, want a small bug (1..12)", m.Name, changed)
		}
	}
}

// TestPatchesApply fails as soon as a change to the system's code makes a patch rot.
func TestPatchesApply(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH")
	}
	src, err := FindSource(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range All() {
		t.Run(m.Name, func(t *testing.T) {
			if err := Check(t.Context(), src, m); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	diff := "diff --git a/system/internal/x.go b/system/internal/x.go\n--- a/system/internal/x.go\n+++ b/system/internal/x.go\n"
	good := "Mutant: m\nPolicy: timeout\nBug: a bug,\n  on two lines.\nCaught-by: smoke: SLO x; retry-storm: SLO y\n\n"
	cases := []struct {
		name, text, want string
	}{
		{"no header", "\n" + diff, "m.patch:1: expected the header"},
		{"no diff", good, "m.patch:6: no \"diff --git\" line"},
		{"unknown key", "Mutant: m\nSeverity: high\n" + diff, "m.patch:2: expected one of Mutant, Policy, Bug, Caught-by"},
		{"twice", "Mutant: m\nMutant: m\n" + diff, "m.patch:2: Mutant given twice"},
		{"missing key", "Mutant: m\nPolicy: timeout\n\n" + diff, "m.patch:1: missing header Bug"},
		{"wrong name", strings.Replace(good, "Mutant: m", "Mutant: other", 1) + diff, `Mutant: "other", but the file is named m.patch`},
		{"unknown policy", strings.Replace(good, "timeout", "vibes", 1) + diff, `Policy: unknown "vibes"`},
		{"caught-by shape", strings.Replace(good, "smoke: SLO x", "smoke", 1) + diff, `Caught-by: expected "SCENARIO: check"`},
		{"dangling continuation", "  on its own\n" + diff, "m.patch:1: continuation line before any header key"},
		{"header reads as diff", "Mutant: m\n--- oops\n" + diff, `m.patch:2: a header line may not start with "---"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("m.patch", []byte(c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "mutants: ") {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	m, err := Parse("m.patch", []byte(good+diff))
	if err != nil {
		t.Fatal(err)
	}
	if m.Bug != "a bug, on two lines." || !slices.Equal(m.Scenarios, []string{"smoke", "retry-storm"}) {
		t.Errorf("parsed %+v", m)
	}
}

func TestFindSource(t *testing.T) {
	root, err := FindSource(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "scenarios", "mutants", "mutants.go")); err != nil {
		t.Errorf("FindSource = %s, not this module's root", root)
	}
	if _, err := FindSource(t.TempDir()); err == nil {
		t.Error("FindSource outside the module: want an error")
	}
}

// TestBuild builds one mutant's binary from a scratch copy (Build fails unless the patch
// applied) and checks the tree is untouched, the build is cached and Close removes it.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a faultline binary (-short)")
	}
	src, err := FindSource(".")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(src)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m, ok := Get("timeout-not-applied")
	if !ok {
		t.Fatal("mutant timeout-not-applied is gone: pick another one here")
	}
	before, err := os.ReadFile(filepath.Join(src, "system/internal/link/quota.go"))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := b.Build(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s serve --help: %v\n%s", bin, err, out)
	}
	after, _ := os.ReadFile(filepath.Join(src, "system/internal/link/quota.go"))
	if string(before) != string(after) {
		t.Fatal("Build modified the source tree")
	}
	if again, err := b.Build(t.Context(), m); err != nil || again != bin {
		t.Errorf("second Build = %s, %v; want the cached %s", again, err, bin)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); !os.IsNotExist(err) {
		t.Errorf("binary %s still there after Close (%v)", bin, err)
	}
}

// TestBuildRejectsStalePatch: a patch that no longer applies is an error naming the mutant,
// before anything is compiled.
func TestBuildRejectsStalePatch(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH")
	}
	src, err := FindSource(".")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(src)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stale := Mutant{Name: "stale", Patch: []byte(`diff --git a/system/system.go b/system/system.go
--- a/system/system.go
+++ b/system/system.go
@@ -1,3 +1,3 @@
-this line is not in the file
+nor is this one
 package system
`)}
	_, err = b.Build(t.Context(), stale)
	if err == nil || !strings.Contains(err.Error(), "mutants: stale: the patch does not apply") {
		t.Errorf("got %v, want the patch refused", err)
	}
}

// TestDocListsEveryMutant keeps docs/mutants.md's table in step with the patches.
func TestDocListsEveryMutant(t *testing.T) {
	doc, err := os.ReadFile("../../docs/mutants.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range All() {
		if !strings.Contains(string(doc), "| `"+m.Name+"` | "+m.Policy+" |") {
			t.Errorf("docs/mutants.md has no table row for %s (policy %s)", m.Name, m.Policy)
		}
	}
}

// TestBuildCancelled: an interrupted build (Ctrl-C cancels mutate's context) returns the
// context's error and leaves no scratch copy; Close leaves nothing at all.
func TestBuildCancelled(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH")
	}
	src, err := FindSource(".")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(src)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	m, _ := Get("timeout-not-applied")
	if _, err := b.Build(ctx, m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the build cut by the context", err)
	}
	if left, _ := filepath.Glob(filepath.Join(b.dir, "src-*")); len(left) > 0 {
		t.Errorf("scratch copies left after the cancelled build: %v", left)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after Close (%v)", b.dir, err)
	}
}
