package lab

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/toxics/httptoxic"
)

// TestStockToxiproxyCLISeesRequestLevelToxics: the stock toxiproxy-cli, built from the module
// cache at go.mod's version, lists and inspects an http_error on the lab's Toxiproxy build
// (what `faultline serve toxiproxy` and compose run) and `toxic remove` removes it: the fault
// stops acting.
func TestStockToxiproxyCLISeesRequestLevelToxics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds toxiproxy-cli (about 30 s of compiling)")
	}
	cli := buildToxiproxyCLI(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeToxiproxy(ctx, addr, "", io.Discard) }()
	t.Cleanup(func() { cancel(); <-done })
	c := toxiclient.NewClient("http://" + addr)
	if err := waitToxiproxy(ctx, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(backend.Close)
	p, err := c.CreateProxy("redirect->link", "127.0.0.1:0", strings.TrimPrefix(backend.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	names, err := httptoxic.Add(p, httptoxic.TypeError, "cli-test", httptoxic.Attrs{Status: 503, Share: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	get := func() int {
		t.Helper()
		// A fresh connection per request: the pairing of a kept-alive one is not the point here.
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		resp, err := hc.Get("http://" + p.Listen + "/links/abc")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 503 {
		t.Fatalf("through the proxy with http_error: %d, want 503", got)
	}

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(cli, append([]string{"--host", "http://" + addr}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("toxiproxy-cli %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("list"); !strings.Contains(out, "redirect->link") {
		t.Errorf("toxiproxy-cli list does not show the proxy:\n%s", out)
	}
	out := run("inspect", "redirect->link")
	for _, n := range names {
		if !strings.Contains(out, n) {
			t.Errorf("toxiproxy-cli inspect does not show %s:\n%s", n, out)
		}
	}
	if !strings.Contains(out, "type=http_error") || !strings.Contains(out, "status=503") {
		t.Errorf("toxiproxy-cli inspect does not show the http_error and its status:\n%s", out)
	}
	for _, n := range names {
		run("toxic", "remove", "--toxicName", n, "redirect->link")
	}
	if list, err := p.Toxics(); err != nil || len(list) != 0 {
		t.Fatalf("toxics after toxiproxy-cli toxic remove: %+v, %v", list, err)
	}
	if got := get(); got != 200 {
		t.Errorf("through the proxy after the remove: %d, want 200", got)
	}
}

// buildToxiproxyCLI builds the stock CLI from the module cache, offline; it skips with the
// reason when that cannot be done (a cache without the CLI's own dependencies).
func buildToxiproxyCLI(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/Shopify/toxiproxy/v2").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("toxiproxy-cli not built: the toxiproxy module is not in the module cache (go list -m: %v)", err)
	}
	bin := filepath.Join(t.TempDir(), "toxiproxy-cli")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/cli")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("toxiproxy-cli cannot be built offline from %s: %v\n%s", dir, err, out)
	}
	return bin
}
