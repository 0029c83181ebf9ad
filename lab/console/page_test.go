package console

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports/html/browsertest"
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
