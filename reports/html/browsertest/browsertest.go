// Package browsertest opens a report page in headless Chromium for tests: the page must load
// from file:// with the network unreachable, hold its charts as non-empty SVG, log no console
// error and reference nothing outside itself.
package browsertest

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Page is what the browser saw.
type Page struct {
	DOM        string   // serialised DOM after load
	SVGs       []string // every <svg>…</svg> of the DOM
	Console    []string // console messages Chromium logged
	Screenshot string   // path of the PNG
}

// Chromium finds the browser, or skips the test outside CI and fails it on CI.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: install the Debian package chromium (make deps)")
	}
	t.Skip("chromium not found (Debian package chromium; make deps): skipping the browser check")
	return ""
}

// ArtifactDir is where screenshots go: $FAULTLINE_ARTIFACTS when set, else the test's temp dir.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("FAULTLINE_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// Open loads file in headless Chromium twice (DOM dump, then screenshot) with every host
// name unresolvable, so any attempt to reach the network fails visibly.
func Open(t testing.TB, file, shotName string) Page {
	t.Helper()
	bin := Chromium(t)
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	url := "file://" + abs
	var p Page
	stdout, stderr := run(t, bin, "--dump-dom", url)
	p.DOM = stdout
	p.Console = consoleLines(stderr)
	p.SVGs = svgRe.FindAllString(p.DOM, -1)
	p.Screenshot = filepath.Join(ArtifactDir(t), shotName)
	_, stderr = run(t, bin, "--screenshot="+p.Screenshot, "--window-size=1280,2400", url)
	p.Console = append(p.Console, consoleLines(stderr)...)
	f, err := os.Open(p.Screenshot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 1280 || cfg.Height != 2400 {
		t.Fatalf("screenshot %s: %dx%d, %v", p.Screenshot, cfg.Width, cfg.Height, err)
	}
	t.Logf("screenshot: %s", p.Screenshot)
	return p
}

func run(t testing.TB, bin string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--user-data-dir=" + t.TempDir(),
		`--host-resolver-rules=MAP * ~NOTFOUND`, "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, tail(errb.String(), 2000))
	}
	return out.String(), errb.String()
}

var (
	svgRe     = regexp.MustCompile(`(?s)<svg\b.*?</svg>`)
	consoleRe = regexp.MustCompile(`CONSOLE(?:\(\d+\)|:\d+)\].*`) // both log formats Chromium has used
	// External references: src/href/xlink:href/srcset/action to anything but a fragment or a
	// data: URL, CSS url() and @import, and script elements.
	refRe = regexp.MustCompile(`(?i)\b(?:src|href|xlink:href|srcset|action|poster|data)\s*=\s*"([^"]*)"|url\(\s*['"]?([^'")]*)|@import|<script\b|<link\b[^>]*rel="?stylesheet`)
)

func consoleLines(stderr string) []string {
	return consoleRe.FindAllString(stderr, -1)
}

// ExternalRefs lists what in page could make the browser fetch something.
func ExternalRefs(page string) []string {
	var out []string
	for _, m := range refRe.FindAllStringSubmatch(page, -1) {
		ref := m[1] + m[2]
		switch {
		case m[1] == "" && m[2] == "":
			out = append(out, m[0]) // @import, <script>, stylesheet link
		case strings.HasPrefix(ref, "#"), strings.HasPrefix(ref, "data:"):
		default:
			out = append(out, m[0])
		}
	}
	return out
}

// DrawingElements counts path, rect, line, polygon and text elements in svg.
func DrawingElements(svg string) int {
	return len(drawRe.FindAllString(svg, -1))
}

var drawRe = regexp.MustCompile(`<(?:path|rect|line|polyline|polygon|circle|text)\b`)

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
