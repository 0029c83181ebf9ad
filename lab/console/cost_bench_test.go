package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports/html/browsertest"
)

// BenchmarkConsoleCost measures what an open console costs the system under test, on the
// real system started by `faultline up --console --profile none` (no route rate limit, so the
// redirect route runs at what the machine can do):
//   - redirect capacity: a closed loop of 32 workers on cached redirects for 8 s, with no
//     page open and with one headless Chromium page on the console, four rounds of each in the
//     same run, in alternating order so drift hits both alike; cost-share is 1 - open/closed of the
//     medians (target ≤ 0.02);
//   - update lag: a fault injected with `faultline inject` until its row is on the page
//     (a MutationObserver stamps it), counted from when the command returned, five times;
//   - page-cpu-share: the CPU Chromium itself burned while open, as a share of the cores —
//     the exact part of the cost that capacity's round-to-round noise hides; and
//     lab-cpu-share-added: what the lab process (the console's server side) burned more with
//     the page open than without.
//
// Run alone (it saturates both cores): FAULTLINE_BIN=$PWD/bin/faultline go test -run '^$'
// -bench ConsoleCost -benchtime 1x ./lab/console/
func BenchmarkConsoleCost(b *testing.B) {
	bin, err := testbin.Path()
	if err != nil {
		b.Fatal(err)
	}
	browsertest.Chromium(b)
	stateDir := b.TempDir()
	consoleURL, endpoints, labPID, _ := startUp(b, bin, filepath.Join(b.TempDir(), "run"), "--profile", "none", "--state-dir", stateDir, "--dead-man", "0")
	isLab := func(pid int) bool { return pid == labPID }
	gateway := endpoints["gateway"]
	ctx := context.Background()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var codes []string
	for i := range 100 {
		code, err := lab.CreateLink(ctx, client, gateway, fmt.Sprintf("https://example.com/console-cost/%d", i))
		if err != nil {
			b.Fatal(err)
		}
		codes = append(codes, code)
	}
	capacity(client, gateway, codes, 3*time.Second) // warm the cache and the pools
	b.ResetTimer()
	var closed, open, lags, pageCPU, labClosed, labOpen []float64
	share := func(ticks int64, since time.Time) float64 {
		return float64(ticks) / clockTicks / time.Since(since).Seconds() / float64(runtime.NumCPU())
	}
	measureClosed := func() {
		labBefore, t0 := pidTicks(isLab), time.Now()
		closed = append(closed, capacity(client, gateway, codes, 8*time.Second))
		labClosed = append(labClosed, share(pidTicks(isLab).since(labBefore), t0))
	}
	// Rounds alternate their order (closed-open, open-closed, ...): the system slows as its
	// stores fill with clicks, and a fixed order would bill that drift to the page.
	for round := range 4 {
		if round%2 == 0 {
			measureClosed()
		}
		br := browsertest.Launch(b, 1400, 1100)
		br.Navigate(consoleURL)
		br.WaitFor(`document.getElementById('conn').textContent === 'live'`, 10*time.Second)
		time.Sleep(time.Second) // the page's first full render is not the steady cost
		before, labBefore, t0 := cpuTicks(isChromium), pidTicks(isLab), time.Now()
		open = append(open, capacity(client, gateway, codes, 8*time.Second))
		// The page's own cost, exactly: the CPU Chromium burned meanwhile, as a share of the
		// machine's two cores (capacity alone is too noisy to show 2 %), and what the lab
		// process (the console's server side) burned with the page against without.
		pageCPU = append(pageCPU, share(cpuTicks(isChromium).since(before), t0))
		labOpen = append(labOpen, share(pidTicks(isLab).since(labBefore), t0))
		if round == 3 {
			for range 5 {
				lags = append(lags, injectLag(b, br, bin, stateDir))
			}
		}
		br.Close()
		if round%2 == 1 {
			time.Sleep(time.Second) // Chromium's exit is not the system's load
			measureClosed()
		}
	}
	b.StopTimer()
	med := func(v []float64) float64 {
		s := slices.Clone(v)
		slices.Sort(s)
		return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
	}
	b.ReportMetric(med(closed), "redirects/s-no-page")
	b.ReportMetric(med(open), "redirects/s-page-open")
	b.ReportMetric(1-med(open)/med(closed), "cost-share")
	b.ReportMetric(med(pageCPU), "page-cpu-share")
	b.ReportMetric(med(labOpen)-med(labClosed), "lab-cpu-share-added")
	b.ReportMetric(med(lags), "lag-ms-median")
	b.ReportMetric(slices.Max(lags), "lag-ms-max")
	b.Logf("redirects/s without a page %.0f, with the page open %.0f (rounds); Chromium's share of the cores %.4f; the lab process's share without a page %.4f, with %.4f; inject→page lag ms %.0f", closed, open, pageCPU, labClosed, labOpen, lags)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times (100 on Linux).
const clockTicks = 100

func isChromium(comm string) bool { return strings.HasPrefix(comm, "chrom") }

// cpuTicks snapshots the CPU ticks (user + system) of every process whose command name matches.
func cpuTicks(match func(comm string) bool) ticks {
	return procTicks(func(_ int, comm string) bool { return match(comm) })
}

// pidTicks snapshots them for the processes whose pid matches.
func pidTicks(match func(pid int) bool) ticks {
	return procTicks(func(pid int, _ string) bool { return match(pid) })
}

// ticks is CPU ticks per pid at one moment.
type ticks map[int]int64

// since is the CPU the processes alive now burned after the earlier snapshot (all of it for
// a process born since): a process that exited meanwhile takes its ticks with it, so a plain
// difference of sums could even go negative.
func (t ticks) since(before ticks) int64 {
	var n int64
	for pid, v := range t {
		n += v - before[pid]
	}
	return n
}

func procTicks(match func(pid int, comm string) bool) ticks {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	out := ticks{}
	for _, d := range dirs {
		raw, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... field 14 utime, 15 stime; comm may hold spaces.
		open, close := strings.IndexByte(string(raw), '('), strings.LastIndexByte(string(raw), ')')
		var pid int
		fmt.Sscan(string(raw[:max(open, 0)]), &pid)
		if open < 0 || close < open || !match(pid, string(raw[open+1:close])) {
			continue
		}
		f := strings.Fields(string(raw[close+1:]))
		if len(f) < 13 {
			continue
		}
		var u, s int64
		fmt.Sscan(f[11], &u)
		fmt.Sscan(f[12], &s)
		out[pid] = u + s
	}
	return out
}

// capacity runs 32 workers on cached redirects for d and returns the answered redirects per
// second (302 only: an error is no capacity).
func capacity(c *http.Client, gateway string, codes []string, d time.Duration) float64 {
	var ok atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i++ {
				resp, err := c.Get(gateway + "/r/" + codes[i%len(codes)])
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusFound {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(ok.Load()) / d.Seconds()
}

// injectLag injects a latency fault with the CLI and returns how many milliseconds after the
// command returned its row appeared on the page (0 when it was there first), then heals it.
func injectLag(b *testing.B, br *browsertest.Browser, bin, stateDir string) float64 {
	b.Helper()
	br.Eval(`window.__seen = 0; new MutationObserver(() => {
		if (!window.__seen && [...document.querySelectorAll('#faults tr')].some(r => r.dataset.fault === 'latency')) window.__seen = Date.now();
	}).observe(document.body, {subtree: true, childList: true, attributes: true}); true`)
	if out, err := exec.Command(bin, "inject", "--state-dir", stateDir, "gateway->redirect", "latency", "latency=1ms").CombinedOutput(); err != nil {
		b.Fatalf("inject: %v\n%s", err, out)
	}
	returned := time.Now().UnixMilli()
	br.WaitFor(`window.__seen > 0`, 10*time.Second)
	var seen int64
	if err := json.Unmarshal(br.Eval(`window.__seen`), &seen); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command(bin, "heal", "--state-dir", stateDir, "--all").CombinedOutput(); err != nil {
		b.Fatalf("heal: %v\n%s", err, out)
	}
	br.WaitFor(`![...document.querySelectorAll('#faults tr')].some(r => r.dataset.fault === 'latency')`, 10*time.Second)
	return float64(max(seen-returned, 0))
}

// startUp starts `faultline up --console --dir dir` with args and returns the console's
// address, the lab's endpoints, its pid, and stop: Ctrl-C, then wait (an error exit or no exit
// within 60 s fails the test). stop runs at cleanup if the test did not call it.
func startUp(b testing.TB, bin, dir string, args ...string) (consoleURL string, endpoints map[string]string, pid int, stop func()) {
	b.Helper()
	eps := filepath.Join(b.TempDir(), "endpoints.json")
	up := exec.Command(bin, append([]string{"up", "--console", "--dir", dir, "--endpoints-file", eps}, args...)...)
	stdout, _ := up.StdoutPipe()
	var stderr strings.Builder
	up.Stderr = &stderr
	if err := up.Start(); err != nil {
		b.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = up.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- up.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("up: %v\n%s", err, stderr.String())
			}
		case <-time.After(60 * time.Second):
			_ = up.Process.Kill()
			b.Errorf("up did not stop within 60 s of Ctrl-C")
		}
	}
	b.Cleanup(stop)
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := consoleLine.FindStringSubmatch(sc.Text()); m != nil {
				urlCh <- m[1]
			}
		}
	}()
	select {
	case consoleURL = <-urlCh:
	case <-time.After(90 * time.Second):
		b.Fatalf("no console address within 90 s:\n%s", stderr.String())
	}
	raw, _ := os.ReadFile(eps)
	if err := json.Unmarshal(raw, &endpoints); err != nil {
		b.Fatalf("endpoints: %v", err)
	}
	return consoleURL, endpoints, up.Process.Pid, stop
}
