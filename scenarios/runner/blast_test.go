package runner

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
)

// TestAbortHealsWithinOneSecond: an abort condition checked live stops the run, heals every
// fault within a second and ends as verdict aborted.
func TestAbortHealsWithinOneSecond(t *testing.T) {
	bin := needSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{File: "testdata/abort.yaml", OutDir: t.TempDir(), Binary: bin, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != reports.VerdictAborted || res.Abort == nil {
		t.Fatalf("verdict %s, abort %+v; want aborted (reasons %v)", res.Verdict, res.Abort, res.Reasons)
	}
	if res.Abort.AtS < 6 || res.Abort.AtS > 10 {
		t.Errorf("aborted at %.1fs, want soon after 2 s of errors from 4 s", res.Abort.AtS)
	}
	if res.Abort.HealedInS >= 1 {
		t.Errorf("healing took %.2fs, want < 1 s", res.Abort.HealedInS)
	}
	for _, f := range res.Faults {
		if f.HealedAt < 0 || f.HealedAt > res.Abort.AtS+1 {
			t.Errorf("fault %s on %s healed at %.1fs, abort at %.1fs", f.Fault, f.Target, f.HealedAt, res.Abort.AtS)
		}
	}
	if res.AsExpected {
		t.Error("an aborted run cannot be as expected when a pass was expected")
	}
}

// TestBlastRadiusFromTraces runs a latency fault on link->link-db on the real system: with the
// default profile link is affected and cached redirects are not; with profile none the
// latency travels up to the gateway.
func TestBlastRadiusFromTraces(t *testing.T) {
	bin := needSystem(t)
	for _, profile := range []string{"default", "none"} {
		t.Run(profile, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := Run(ctx, Options{File: "testdata/linkdb-latency.yaml", Profile: profile, OutDir: t.TempDir(), Binary: bin, Log: testLog{t}})
			if err != nil {
				t.Fatal(err)
			}
			br := res.BlastRadius
			if br == nil || res.Telemetry == nil || res.Telemetry.SpansReceived == 0 {
				t.Fatalf("no blast radius or no spans: %+v %+v", br, res.Telemetry)
			}
			if !slices.Contains(br.Origins, "link->link-db") {
				t.Errorf("origin %v, want link->link-db", br.Origins)
			}
			if !slices.Contains(br.AffectedServices, "link") {
				t.Errorf("affected %v, want link among them", br.AffectedServices)
			}
			if slices.Contains(br.AffectedServices, "redirect") {
				t.Errorf("redirect affected (%v): cached redirects never reach link", br.AffectedServices)
			}
			reached := false
			for _, p := range br.Propagation {
				if p.Reached && slices.Contains(p.Path, "link") && slices.Contains(p.Path, "gateway") {
					reached = true
				}
			}
			if profile == "none" && !reached {
				t.Errorf("profile none: no propagation path link → gateway reached the entry: %+v", br.Propagation)
			}
			t.Logf("%s: affected %v, paths %s", profile, br.AffectedServices, paths(br.Propagation))
		})
	}
}

func paths(ps []reports.PropagationPath) string {
	var out []string
	for _, p := range ps {
		s := strings.Join(p.Path, "→")
		if p.Reached {
			s += " (reached entry)"
		} else if p.StoppedAt != "" {
			s += " (stopped at " + p.StoppedAt + " by " + p.StoppedBy + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}
