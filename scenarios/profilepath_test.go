package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfilePathRelativeToFile: a relative profile path is the scenario file's, not the
// working directory's, so `faultline run scenarios/flood.yaml` from the checkout and
// `faultline run flood.yaml` from scenarios/ run the same profile; a missing file is an error
// at the profile key, found by validate, not by the lab when the services fail to start.
func TestProfilePathRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "profiles", "p.yaml")
	if err := os.WriteFile(abs, []byte("name: p\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "x.yaml")
	cases := []struct {
		name, profile, want, err string
	}{
		{"built-in", "default", "default", ""},
		{"relative", "profiles/p.yaml", abs, ""},
		{"dot relative", "./profiles/../profiles/p.yaml", abs, ""},
		{"absolute", abs, abs, ""},
		{"missing", "profiles/q.yaml", "", file + ":2:10: profile: no profile file " + filepath.Join(dir, "profiles", "q.yaml")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "name: x\nprofile: " + c.profile + "\nduration: 20s\n" +
				"load:\n  - {name: r, request: \"GET /r/{code}\", rate: 10/s}\n" +
				"slos:\n  - {load: r, thresholds: [\"errors<1%\"]}\n"
			if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			sc, err := ParseFile(file)
			if c.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.err) {
					t.Fatalf("got %v, want an error starting %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.Profile != c.want {
				t.Errorf("profile %q, want %q", sc.Profile, c.want)
			}
		})
	}
}
