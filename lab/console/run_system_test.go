package console_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html/browsertest"
)

var runConsoleLine = regexp.MustCompile(`console: (http://\S+)`)

// TestRunConsoleInChromium opens the console of `faultline run --console` in a real Chromium
// during a short scenario run: the page shows the run's load stream and its scheduled latency
// fault (listed, and the edge's p99 rising on the map), then H halts the run from the page:
// no toxic is left on the run's Toxiproxy, the run stops early and ends halted and invalid —
// never a pass — with exit code 1. The page loaded nothing from the network.
func TestRunConsoleInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: real system")
	}
	bin, err := testbin.Path()
	if err != nil {
		t.Fatal(err)
	}
	browsertest.Chromium(t)
	stateDir := t.TempDir()
	out := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, bin, "run", "--console", "--plain", "--out", out, "testdata/run-console.yaml")
	run.Env = append(os.Environ(), "FAULTLINE_STATE_DIR="+stateDir)
	stdout, _ := run.StdoutPipe()
	var stderr strings.Builder
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	logDone := make(chan struct{})
	urlCh := make(chan string, 1)
	go func() {
		defer close(logDone)
		defer close(urlCh) // the run ended
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := runConsoleLine.FindStringSubmatch(sc.Text()); m != nil {
				urlCh <- m[1]
			}
		}
	}()
	var consoleURL string
	select {
	case consoleURL = <-urlCh:
		if consoleURL == "" {
			t.Fatalf("the run ended without a console:\n%s\n%s", log.String(), stderr.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("no console address within 90 s:\n%s", stderr.String())
	}
	base := consoleURL[:strings.Index(consoleURL, "/?")]
	labs := lab.Running(stateDir)
	if len(labs) != 1 || labs[0].Toxiproxy == "" {
		t.Fatalf("running labs %+v: want the run's, with its Toxiproxy", labs)
	}

	br := browsertest.Launch(t, 1400, 1100)
	br.Navigate(consoleURL)
	br.WaitFor(`document.getElementById('conn').textContent === 'live'`, 10*time.Second)
	// The scheduled fault, listed as the scenario's, and the edge's latency on the map.
	br.WaitFor(`[...document.querySelectorAll('#faults tr')].some(r => r.dataset.fault === 'latency' && r.dataset.target === 'gateway->redirect' && r.textContent.includes('scenario'))`, 15*time.Second)
	faultSeen := time.Now() // polled every 100 ms: the update lag, to within that
	// The run's stream, not controllable from the page, with requests flowing.
	br.WaitFor(`(() => { const s = document.querySelector('[data-stream="redirect"]');
		return s && !s.querySelector('button') && /[1-9][0-9]*\/s,/.test(s.querySelector('header span').textContent) })()`, 15*time.Second)
	if got := string(br.Eval(`getComputedStyle(document.getElementById('newstream')).display === 'none' && getComputedStyle(document.getElementById('slos')).display === 'none'`)); got != "true" {
		t.Error("the load and SLO forms show during a run: the scenario drives the load")
	}
	if n := toxicsOn(t, labs[0].Toxiproxy); n != 1 {
		t.Fatalf("%d toxics on the run's Toxiproxy during its fault, want 1", n)
	}
	br.WaitFor(`(() => { const s = document.querySelector('[data-edge-label="gateway->redirect"] [data-p99]');
		return s && Number(s.dataset.p99) >= 140 })()`, 15*time.Second)
	br.WaitFor(`Number(document.querySelector('[data-stream="redirect"] header span').dataset.p99) >= 140`, 10*time.Second)
	br.Screenshot("run-console-fault.png")

	br.Key("h") // HALT by key
	br.WaitFor(`!document.getElementById('halted').hidden`, 10*time.Second)
	if n := toxicsOn(t, labs[0].Toxiproxy); n != 0 {
		t.Fatalf("%d toxics left on the run's Toxiproxy after HALT", n)
	}
	br.WaitFor(`document.querySelector('#faults tbody').textContent.includes('none')`, 5*time.Second)
	br.Screenshot("run-console-halted.png")
	requests, errs := br.Seen()
	for _, r := range requests {
		if !strings.HasPrefix(r, base+"/") {
			t.Errorf("the page requested %s (only %s/ is allowed)", r, base)
		}
	}
	for _, e := range errs {
		t.Errorf("page error: %s", e)
	}
	br.Close()

	err = run.Wait()
	<-logDone
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("faultline run exited with %v, want exit code 1 (not as expected)\n%s", err, log.String())
	}
	res, rerr := reports.ReadResults(filepath.Join(out, "results.json"))
	if rerr != nil {
		t.Fatalf("no results: %v\n%s\n%s", rerr, log.String(), stderr.String())
	}
	if res.Verdict != reports.VerdictHalted || res.Valid || res.AsExpected || res.Halt == nil {
		t.Fatalf("verdict %s valid %v as expected %v halt %+v: want halted and invalid", res.Verdict, res.Valid, res.AsExpected, res.Halt)
	}
	if res.DurationS > 25 {
		t.Errorf("the load ran %.1fs of 30 s: HALT must stop it", res.DurationS)
	}
	if f := res.Faults[0]; f.HealedAt < 0 || f.HealedAt > res.Halt.AtS+1 {
		t.Errorf("fault %+v: want healed within 1 s of the halt at %.1fs", f, res.Halt.AtS)
	}
	// Update lag: from the scheduled fault's apply (the run's clock) to it on the page.
	applied := res.StartedAt.Add(time.Duration(res.Faults[0].AppliedAt * float64(time.Second)))
	lag := faultSeen.Sub(applied)
	t.Logf("update lag, scheduled fault applied -> listed on the page: %v (polled every 100 ms)", lag.Round(time.Millisecond))
	if lag > 1500*time.Millisecond {
		t.Errorf("the fault showed %v after it was applied, want within a second (+ the poll)", lag)
	}
	if !strings.Contains(log.String(), "HALTED at") || !strings.Contains(log.String(), "halted") {
		t.Errorf("the run's output does not say it was halted:\n%s", log.String())
	}
	browsertest.Open(t, filepath.Join(out, "report.html"), "run-console-report.png")
}
