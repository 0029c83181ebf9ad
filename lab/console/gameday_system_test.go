package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html/browsertest"
)

var consoleLine = regexp.MustCompile(`^console\s+(http://\S+)`)

// TestGameDayInChromium is a game day in miniature, in a real Chromium on the real system
// started by `faultline up --console`: the page drives load and sets an SLO, injects a latency
// fault through the form (built from the registry), sees it listed and the edge's p99 rise on
// the map, a note is added, H halts (every toxic gone, checked on the Toxiproxy API; the next
// inject is refused); the page loaded nothing from the network and logged no error. Ctrl-C
// writes the run directory, and its export validates and replays with `faultline run`.
func TestGameDayInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: real system")
	}
	bin, err := testbin.Path()
	if err != nil {
		t.Fatal(err)
	}
	browsertest.Chromium(t)
	dir := filepath.Join(t.TempDir(), "gameday")
	consoleURL, endpoints, upPid, stop := startUp(t, bin, dir, "--state-dir", t.TempDir(), "--dead-man", "15s")
	base := consoleURL[:strings.Index(consoleURL, "/?")]

	br := browsertest.Launch(t, 1400, 1100)
	br.Navigate(consoleURL)
	br.WaitFor(`document.getElementById('conn').textContent === 'live'`, 10*time.Second)
	if u := string(br.Eval(`location.href`)); strings.Contains(u, "token") {
		t.Errorf("the token stayed in the address bar: %s", u)
	}
	// Traffic, an SLO, then the fault, all through the page's forms.
	br.Eval(`document.getElementById('s-rate').value = '60'; document.getElementById('newstream').requestSubmit(); true`)
	br.WaitFor(`document.querySelector('[data-stream="redirect"]') !== null`, 20*time.Second)
	// The stream is sent from a generator process of its own, as a scenario's load is, not
	// from the lab's process with Toxiproxy and the span receiver.
	if n := loadgens(t, upPid, 1); n != 1 {
		t.Errorf("%d load generator processes under up while one stream runs, want 1", n)
	}
	br.Eval(`document.getElementById('slo-th').value = 'p(99)<1s, errors<5%'; document.getElementById('slos').requestSubmit(); true`)
	br.WaitFor(`document.getElementById('slo-list').textContent.includes('p(99)<1s')`, 5*time.Second)
	time.Sleep(4 * time.Second) // a baseline
	br.Eval(`(() => {
		const f = document.getElementById('f-name'); f.value = 'latency'; f.dispatchEvent(new Event('change'));
		document.getElementById('f-target').value = 'gateway->redirect';
		document.querySelector('#f-params input[data-param="latency"]').value = '150ms';
		document.getElementById('f-for').value = '60s';
		document.getElementById('inject').requestSubmit(); return true })()`)
	br.WaitFor(`[...document.querySelectorAll('#faults tr')].some(r => r.dataset.fault === 'latency' && r.dataset.target === 'gateway->redirect')`, 5*time.Second)
	if n := toxicsOn(t, endpoints["toxiproxy"]); n != 1 {
		t.Fatalf("%d toxics on the Toxiproxy API after the inject, want 1", n)
	}
	// The map learns the edge's latency from spans within seconds.
	br.WaitFor(`(() => { const s = document.querySelector('[data-edge-label="gateway->redirect"] [data-p99]');
		return s && Number(s.dataset.p99) >= 140 })()`, 15*time.Second)
	br.WaitFor(`Number(document.querySelector('[data-stream="redirect"] header span').dataset.p99) >= 140`, 10*time.Second)
	br.Eval(`document.getElementById('note-text').value = 'redirect p99 follows the gateway->redirect latency'; document.getElementById('note').requestSubmit(); true`)
	br.WaitFor(`document.querySelector('#timeline .k-note') !== null`, 5*time.Second)
	br.Screenshot("console-fault.png")

	br.Key("h") // HALT by key
	br.WaitFor(`!document.getElementById('halted').hidden`, 10*time.Second)
	if n := toxicsOn(t, endpoints["toxiproxy"]); n != 0 {
		t.Fatalf("%d toxics left on the Toxiproxy API after HALT", n)
	}
	br.WaitFor(`document.querySelector('#faults tbody').textContent.includes('none')`, 5*time.Second)
	if n := loadgens(t, upPid, 0); n != 0 {
		t.Errorf("%d load generator processes left after HALT stopped every stream", n)
	}
	br.Eval(`document.getElementById('inject').requestSubmit(); true`)
	br.WaitFor(`!document.getElementById('error').hidden && document.getElementById('error').textContent.includes('halted')`, 5*time.Second)
	if n := toxicsOn(t, endpoints["toxiproxy"]); n != 0 {
		t.Fatalf("an inject while halted added %d toxics", n)
	}
	br.Screenshot("console-halted.png")
	requests, errs := br.Seen()
	for _, r := range requests {
		if !strings.HasPrefix(r, base+"/") {
			t.Errorf("the page requested %s (only %s/ is allowed)", r, base)
		}
	}
	for _, e := range errs {
		// The one expected error: the refused inject's 409, which the page shows in its banner.
		if !strings.Contains(e, "409") {
			t.Errorf("page error: %s", e)
		}
	}
	br.Close()

	stop()
	res, err := reports.ReadResults(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatalf("no game-day results: %v (the lab log is in %s/logs)", err, dir)
	}
	if len(res.Faults) != 1 || res.Faults[0].Who == "" || len(res.Notes) != 1 || len(res.SLOs) == 0 {
		t.Fatalf("results: faults %+v notes %+v slos %d", res.Faults, res.Notes, len(res.SLOs))
	}
	for _, f := range []string{"samples.csv", "spans.jsonl", "timeline.json", "gameday.json", "report.html", "scenario.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	page := browsertest.Open(t, filepath.Join(dir, "report.html"), "gameday-report.png")
	if !strings.Contains(page.DOM, "redirect p99 follows") {
		t.Errorf("the report does not show the note")
	}

	// The export round trip: export, validate, run.
	exported := filepath.Join(t.TempDir(), "replay.yaml")
	out, err := exec.Command(bin, "gameday", "export", dir).Output()
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if err := os.WriteFile(exported, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := exec.Command(bin, "validate", exported).CombinedOutput(); err != nil {
		t.Fatalf("validate the export: %v\n%s\n%s", err, o, out)
	}
	runDir := filepath.Join(t.TempDir(), "replay")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o, err := exec.CommandContext(ctx, bin, "run", "--out", runDir, exported).CombinedOutput()
	replay, rerr := reports.ReadResults(filepath.Join(runDir, "results.json"))
	if rerr != nil {
		t.Fatalf("replay wrote no results: %v / %v\n%s", err, rerr, o)
	}
	if len(replay.Faults) != 1 || replay.Faults[0].Target != "gateway->redirect" || replay.Faults[0].Fault != "latency" {
		t.Errorf("replay faults %+v", replay.Faults)
	}
	if !replay.AsExpected || err != nil {
		t.Errorf("replay verdict %s, not as expected (%v): %v\n%s", replay.Verdict, err, replay.Reasons, o)
	}
	t.Logf("replay verdict %s; export:\n%s", replay.Verdict, out)
}

func toxicsOn(t *testing.T, toxiproxy string) int {
	t.Helper()
	resp, err := http.Get(toxiproxy + "/proxies")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var proxies map[string]struct {
		Toxics  []json.RawMessage `json:"toxics"`
		Enabled bool              `json:"enabled"`
	}
	if err := json.Unmarshal(b, &proxies); err != nil {
		t.Fatalf("toxiproxy /proxies: %v: %s", err, b)
	}
	n := 0
	for _, p := range proxies {
		n += len(p.Toxics)
		if !p.Enabled {
			n++
		}
	}
	return n
}

// loadgens counts the children of pid that are load generators (`faultline loadgen`), read
// again for up to 5 s until there are want of them (a stream's process starts after the
// page shows the stream, and ends after the halt's answer).
func loadgens(t *testing.T, pid, want int) int {
	t.Helper()
	n := countLoadgens(t, pid)
	for end := time.Now().Add(5 * time.Second); n != want && time.Now().Before(end); n = countLoadgens(t, pid) {
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

func countLoadgens(t *testing.T, pid int) int {
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its closing ')'
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
		if err == nil && slices.Contains(strings.Split(string(cmd), "\x00"), "loadgen") {
			n++
		}
	}
	return n
}
