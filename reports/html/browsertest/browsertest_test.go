package browsertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The checks must be able to fail: a page that logs an error and asks the network for an
// image is caught on both counts.
func TestCatchesConsoleAndExternalRefs(t *testing.T) {
	Chromium(t)
	file := filepath.Join(t.TempDir(), "bad.html")
	page := `<!DOCTYPE html><html><body><p>x</p><img src="https://cdn.example.invalid/x.png">` +
		`<script>console.error("boom from the page")</script>` +
		`<svg><rect width="1" height="1"/></svg></body></html>`
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Open(t, file, "bad.png")
	if !strings.Contains(strings.Join(p.Console, "\n"), "boom from the page") {
		t.Errorf("console error not captured: %q", p.Console)
	}
	if len(ExternalRefs(p.DOM)) == 0 {
		t.Error("external image not found in the DOM")
	}
	if len(p.SVGs) != 1 || DrawingElements(p.SVGs[0]) != 1 {
		t.Errorf("svgs = %q", p.SVGs)
	}
}
