package html

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html/browsertest"
	"github.com/faultline/faultline/reports/rundir"
)

// TestBrowserPerEdgeTableFits lays the report out in real Chromium at a laptop's width, with
// the longest edge and route names the system has: the per-edge table stays inside its
// column (the page never scrolls sideways), and no edge name breaks inside its arrow
// ("gateway-" / ">link"): each stays on one line. The negative control's banner is checked in
// the same page: its own colour, not the regression red.
func TestBrowserPerEdgeTableFits(t *testing.T) {
	browsertest.Chromium(t)
	run := loadFixture(t)
	res := *run.Results
	res.Verdict, res.ExpectedVerdict, res.AsExpected = reports.VerdictFail, reports.VerdictFail, true
	if res.Mechanisms == nil || len(countRows(res.Mechanisms)) == 0 {
		t.Fatal("the fixture has no per-edge counts to lay out")
	}
	file := filepath.Join(t.TempDir(), rundir.ReportFile)
	if err := os.WriteFile(file, []byte(render(t, &res, run.Samples, run.Scenario)), 0o644); err != nil {
		t.Fatal(err)
	}
	br := browsertest.Launch(t, 900, 1200)
	defer br.Close()
	br.Navigate("file://" + file)
	if got := string(br.Eval(`document.querySelectorAll('#per-edge code.edge').length`)); got == "0" {
		t.Fatal("no edge names in the per-edge table")
	}
	if got := string(br.Eval(`document.documentElement.scrollWidth <= window.innerWidth`)); got != "true" {
		t.Errorf("the page scrolls sideways: width %s > %s; widest: %s", br.Eval(`document.documentElement.scrollWidth`), br.Eval(`window.innerWidth`),
			br.Eval(`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth).slice(0, 4).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))`))
	}
	if got := string(br.Eval(`(() => { const t = document.getElementById('per-edge'); return t.parentElement.getBoundingClientRect().right <= document.body.getBoundingClientRect().right + 0.5 })()`)); got != "true" {
		t.Errorf("the per-edge table's box spills out of the page body")
	}
	if broken := string(br.Eval(`[...document.querySelectorAll('code.edge')].filter(c => c.getClientRects().length > 1).map(c => c.textContent)`)); broken != "[]" {
		t.Errorf("edge names broken across lines: %s", broken)
	}
	if bg := string(br.Eval(`getComputedStyle(document.querySelector('header.banner')).backgroundColor`)); bg == `"rgb(251, 231, 229)"` {
		t.Errorf("a negative control's expected fail has the regression's red banner")
	}
	br.Eval(`document.getElementById('per-edge').scrollIntoView(); true`)
	br.Screenshot("per-edge-table.png")
	br.Eval(`window.scrollTo(0, 0); true`)
	br.Screenshot("negative-control-banner.png")
}
