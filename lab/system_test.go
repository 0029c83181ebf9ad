package lab

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/toxics"
)

// needServices needs a faultline binary whose `serve` runs the system's services.
func needServices(t *testing.T) {
	t.Helper()
	needStores(t)
	needBinary(t)
	if out, err := exec.Command(binary, "serve", "link", "--help").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("faultline serve link --help failed (services not built yet?): %v: %s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func startSystem(t *testing.T) (*Lab, *watcher) {
	t.Helper()
	needServices(t)
	w := watch()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l, err := Start(ctx, Options{Dir: t.TempDir(), StateDir: t.TempDir(), Binary: binary, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l, w
}

func apply(t *testing.T, l *Lab, fault, target string, params map[string]any) toxics.Undo {
	t.Helper()
	f, err := toxics.New(fault, params)
	if err != nil {
		t.Fatal(err)
	}
	undo, err := f.Apply(context.Background(), l.Env(), target)
	if err != nil {
		t.Fatalf("%s on %s: %v", fault, target, err)
	}
	return undo
}

// missMedian creates n fresh links and returns the median time of their first redirect,
// which is a cache miss: redirect asks link, over redirect->link.
func missMedian(t *testing.T, l *Lab, c *http.Client, n int) time.Duration {
	t.Helper()
	ctx := context.Background()
	var ds []time.Duration
	for i := 0; i < n; i++ {
		code, err := CreateLink(ctx, c, l.Gateway(), fmt.Sprintf("https://example.com/miss/%d/%d", time.Now().UnixNano(), i))
		if err != nil {
			t.Fatal(err)
		}
		status, cache, d, err := Redirect(ctx, c, l.Gateway(), code)
		if err != nil || status != http.StatusFound || cache != "miss" {
			t.Fatalf("first redirect of %s: status %d X-Cache %q err %v", code, status, cache, err)
		}
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[n/2]
}

// eventually polls f until it returns nil or the timeout passes (breakers need their delay
// to half-open after a heal).
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func redirectOK(l *Lab, c *http.Client, code string) func() error {
	return func() error {
		status, _, _, err := Redirect(context.Background(), c, l.Gateway(), code)
		if err != nil {
			return err
		}
		if status != http.StatusFound {
			return fmt.Errorf("status %d", status)
		}
		return nil
	}
}

func TestSystemUnderFaults(t *testing.T) {
	l, w := startSystem(t)
	c := newBenchClient()
	ctx := context.Background()

	t.Run("latency on redirect->link", func(t *testing.T) {
		base := missMedian(t, l, c, 7)
		undo := apply(t, l, "latency", "redirect->link", map[string]any{"latency": "100ms"})
		slow := missMedian(t, l, c, 7)
		if d := slow - base; d < 85*time.Millisecond || d > 115*time.Millisecond {
			t.Errorf("cache-miss redirect went from %v to %v (+%v), want +100ms ± 15ms", base, slow, d)
		}
		if err := undo(ctx); err != nil {
			t.Fatal(err)
		}
		if after := missMedian(t, l, c, 7); after > base+15*time.Millisecond {
			t.Errorf("after undo %v, baseline %v", after, base)
		}
	})

	for _, fault := range []string{"partition", "reset_peer"} {
		t.Run(fault+" on redirect->link", func(t *testing.T) {
			code, err := CreateLink(ctx, c, l.Gateway(), "https://example.com/"+fault)
			if err != nil {
				t.Fatal(err)
			}
			undo := apply(t, l, fault, "redirect->link", nil)
			if err := redirectOK(l, c, code)(); err == nil {
				t.Errorf("a cache miss was served across a %s", fault)
			}
			if err := undo(ctx); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "redirect after heal", redirectOK(l, c, code))
		})
	}

	t.Run("crash link, undo restarts it", func(t *testing.T) {
		pid := l.proc("link").Pid()
		undo := apply(t, l, "crash", "link", nil)
		if _, err := http.Get(l.Direct("link") + "/healthz"); err == nil {
			t.Error("link answers after crash")
		}
		if pidAlive(pid) {
			t.Errorf("link pid %d alive after crash", pid)
		}
		if err := undo(ctx); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(l.Direct("link") + "/readyz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("link not ready after undo: %v", err)
		}
		resp.Body.Close()
		if _, err := CreateLink(ctx, c, l.Gateway(), "https://example.com/after-crash"); err != nil {
			t.Error(err)
		}
	})

	t.Run("pause redirect, resume thaws it", func(t *testing.T) {
		code, err := CreateLink(ctx, c, l.Gateway(), "https://example.com/pause")
		if err != nil {
			t.Fatal(err)
		}
		undo := apply(t, l, "pause", "redirect", nil)
		short := &http.Client{Timeout: 1500 * time.Millisecond, CheckRedirect: c.CheckRedirect}
		if status, cache, d, err := Redirect(ctx, short, l.Gateway(), code); err == nil && status == http.StatusFound {
			t.Errorf("a paused redirect answered: %d X-Cache %s in %v (redirect pid %d state %s)", status, cache, d, l.proc("redirect").Pid(), procState(l.proc("redirect").Pid()))
		}
		if err := undo(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "redirect after resume", redirectOK(l, c, code))
	})

	t.Run("restart redis", func(t *testing.T) {
		before := l.proc("redis").Pid()
		undo := apply(t, l, "restart", "redis", nil)
		defer undo(ctx)
		if after := l.proc("redis").Pid(); after == before || after == 0 {
			t.Errorf("redis pid %d → %d", before, after)
		}
		for _, cs := range l.Status(ctx).Components {
			if cs.State != "ready" {
				t.Errorf("%s is %s after the restart: %s", cs.Name, cs.State, cs.Detail)
			}
		}
	})

	statePath, tmp := l.StatePath(), l.tmp
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if left := w.leftovers(); len(left) > 0 {
		t.Errorf("processes left after Close: %v", left)
	}
	assertGone(t, l, statePath, tmp)
}

func pidAlive(pid int) bool { return localserver.Alive(pid) }

// BenchmarkLab runs Bench once per iteration: cold start to the first redirect, and the
// proxies' cost. `make bench` runs it with -benchtime 1x.
func BenchmarkLab(b *testing.B) {
	if binary == "" {
		b.Fatalf("go build ./cmd/faultline failed: %v", buildErr)
	}
	for i := 0; i < b.N; i++ {
		r, err := Bench(context.Background(), Options{Binary: binary, StateDir: b.TempDir()}, 2000)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.ColdStart.Seconds(), "cold_start_s")
		b.ReportMetric(float64(r.ProxiedP50.Microseconds()), "proxied_p50_µs")
		b.ReportMetric(float64(r.DirectP50.Microseconds()), "direct_p50_µs")
		b.ReportMetric(r.Ratio, "proxied/direct")
	}
}

func procState(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return string(b)
}
