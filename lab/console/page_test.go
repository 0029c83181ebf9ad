package console

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/lab/ledger"
	"github.com/faultline/faultline/reports/html/browsertest"
	"github.com/faultline/faultline/reports/traces"
)

// TestRefusalOutlivesSlowHalt: the page's error banner keeps a refused inject's message when
// the HALT that came before it answers after it. A halt marks the lab halted at once and
// answers when its heals and load stop are done, so a person who sees "halted" and tries an
// inject gets the 409 before the halt's 200; the page used to let that 200 hide the 409
// (TestGameDayInChromium failed in CI waiting for the banner).
func TestRefusalOutlivesSlowHalt(t *testing.T) {
	browsertest.Chromium(t)
	s, env, led := startTest(t, 0)
	if code, body := do(t, s, "POST", "/api/faults", `{"fault":"pause","target":"billing"}`, auth); code != 200 {
		t.Fatalf("inject → %d %v", code, body)
	}
	env.gate = make(chan struct{}) // the halt's heal of billing now waits
	released := false
	release := func() {
		if !released {
			released = true
			close(env.gate)
		}
	}
	defer release()

	br := browsertest.Launch(t, 1200, 900)
	defer br.Close()
	br.Navigate(s.Base() + "/?token=" + token)
	br.WaitFor(`document.getElementById('conn').textContent === 'live'`, 10*time.Second)
	br.Key("h")
	br.WaitFor(`!document.getElementById('halted').hidden`, 5*time.Second) // halted, heal pending
	if !led.Halted() || !env.isPaused("billing") {
		t.Fatal("want the lab halted with the heal still held back")
	}
	br.Eval(`document.getElementById('f-name').value = 'pause'; document.getElementById('f-name').dispatchEvent(new Event('change'));
		document.getElementById('f-target').value = 'link'; document.getElementById('inject').requestSubmit(); true`)
	br.WaitFor(`!document.getElementById('error').hidden && document.getElementById('error').textContent.includes('halted')`, 5*time.Second)
	release() // the halt now answers 200
	waitView(t, s, func(v View) bool { return len(v.Faults) == 0 })
	time.Sleep(500 * time.Millisecond) // the halt's reply reaches the page
	if got := string(br.Eval(`document.getElementById('error').hidden ? 'hidden' : document.getElementById('error').textContent`)); !strings.Contains(got, "halted") {
		t.Fatalf("the refusal's banner after the halt answered: %s", got)
	}
}

// TestPageUpdatesInPlace: an update that brings nothing new changes nothing on the page but
// the clock. The page used to rebuild its map, tables and charts on every update, and that
// rendering was most of what an open page cost (BENCHMARKS.md, the console's cost); now an
// element is made once and written only when its value differs.
func TestPageUpdatesInPlace(t *testing.T) {
	browsertest.Chromium(t)
	now := time.Now()
	spans := []traces.Span{call(1, "gateway->link", now, false, breakerAttr("open")), call(2, "gateway->redirect", now, true, rejected),
		call(3, "gateway->redirect", now, false)}
	led := ledger.New(&fakeEnv{paused: map[string]bool{}}, ledger.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go led.Run(ctx, 50*time.Millisecond)
	s, err := Start(Options{Token: token, Ledger: led, Tick: 100 * time.Millisecond, Window: time.Minute,
		Spans: func() []traces.Span { return spans }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if code, body := do(t, s, "POST", "/api/faults", `{"fault":"pause","target":"billing"}`, auth); code != 200 {
		t.Fatalf("inject → %d %v", code, body)
	}
	br := browsertest.Launch(t, 1200, 900)
	defer br.Close()
	br.Navigate(s.Base() + "/?token=" + token)
	br.WaitFor(`[...document.querySelectorAll('#faults tr')].some(r => r.dataset.fault === 'pause') &&
		document.querySelector('[data-edge-label="gateway->redirect"] [data-p99]') !== null &&
		document.querySelector('line[data-edge="gateway->link"]') !== null`, 10*time.Second)
	// Every mutation from here on, named by where it happened, but the clock's and the
	// dead-man countdown's (they change every second by design) and tooltips'.
	br.Eval(`window.__muts = []; window.__seq0 = Number(document.body.dataset.seq);
		new MutationObserver((records) => { for (const r of records) {
			let n = r.target.nodeType === 1 ? r.target : r.target.parentElement;
			if (n.closest('title') || n.closest('#clock') || n.closest('#deadman') || (n === document.body && r.attributeName === 'data-seq')) continue;
			window.__muts.push((n.id || n.tagName) + ' ' + r.type + ' ' + (r.attributeName || '') + ' ' + (n.outerHTML || '').slice(0, 120));
		} }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true}); true`)
	br.WaitFor(`Number(document.body.dataset.seq) >= window.__seq0 + 5`, 10*time.Second)
	var muts []string
	if err := json.Unmarshal(br.Eval(`window.__muts`), &muts); err != nil {
		t.Fatal(err)
	}
	if len(muts) > 0 {
		t.Errorf("%d changes on the page over five updates that brought nothing new, e.g.:\n%s", len(muts), strings.Join(muts[:min(len(muts), 8)], "\n"))
	}
	// And what changes is still shown: a heal empties the table.
	if code, body := do(t, s, "POST", "/api/heal", ``, auth); code != 200 {
		t.Fatalf("heal → %d %v", code, body)
	}
	br.WaitFor(`document.querySelector('#faults tbody').textContent === 'none'`, 5*time.Second)
}
