package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/faultline/faultline/internal/atomicfile"
	rexplore "github.com/faultline/faultline/reports/explore"
	"github.com/faultline/faultline/scenarios/explore"
	"github.com/faultline/faultline/system/policy"
)

// Report files in the exploration's directory.
const (
	HTMLFile     = "report.html"
	MarkdownFile = "summary.md"
	JSONFile     = "explore.json"
	ScenarioDir  = "scenarios"
)

// Session explores once per profile, writes a weak-spot scenario for each weak spot to
// OutDir/scenarios, and the report (HTML, Markdown, JSON) to OutDir. With several profiles
// each exploration has its own subdirectory. What finished is written even when interrupted.
func Session(ctx context.Context, o Options, profiles []string) (*rexplore.Report, error) {
	if len(profiles) == 0 {
		profiles = []string{o.Profile}
	}
	var exs []*rexplore.Exploration
	var runErr error
	for _, prof := range profiles {
		po := o
		po.Profile = prof
		if len(profiles) > 1 {
			po.OutDir = filepath.Join(o.OutDir, prof)
		}
		ex, err := Explore(ctx, po)
		if ex != nil {
			exs = append(exs, ex)
		}
		// The paths are the system's structure, which a profile does not change: learned
		// once, from the first profile's baseline, they plan every other profile's search.
		if o.Map == nil && err == nil {
			if pm, rerr := explore.ReadPathMap(filepath.Join(po.OutDir, "pathmap.json")); rerr == nil {
				pm.Source = "the baseline of profile " + prof + " (" + filepath.Join(po.OutDir, "baseline") + ")"
				o.Map = &pm
			}
		}
		if err != nil {
			runErr = err
			break
		}
	}
	rep := rexplore.NewReport(exs)
	werr := writeAll(o, rep, len(profiles) > 1)
	return rep, errors.Join(runErr, werr)
}

func writeAll(o Options, rep *rexplore.Report, prefixed bool) error {
	var errs []error
	for _, ex := range rep.Explorations {
		prof, err := policy.Load(ex.Profile)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ex.Scenarios = map[string]string{}
		for _, w := range rexplore.WeakSpots(ex.Outcomes) {
			y, err := o.Base.WeakSpot(w, prof)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			dir := ScenarioDir
			if prefixed {
				dir = filepath.Join(ex.Profile, ScenarioDir)
			}
			rel := filepath.Join(dir, explore.WeakSpotName(w.ID)+".yaml")
			path := filepath.Join(o.OutDir, rel)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := atomicfile.WriteFile(path, y, 0o644); err != nil {
				errs = append(errs, err)
				continue
			}
			ex.Scenarios[w.ID] = rel
		}
	}
	for _, f := range []struct {
		name   string
		render func(*bytes.Buffer) error
	}{
		{JSONFile, func(b *bytes.Buffer) error { return rep.JSON(b) }},
		{MarkdownFile, func(b *bytes.Buffer) error { return rep.Markdown(b) }},
		{HTMLFile, func(b *bytes.Buffer) error { return rep.HTML(b) }},
	} {
		var b bytes.Buffer
		if err := f.render(&b); err != nil {
			errs = append(errs, fmt.Errorf("explore: %s: %w", f.name, err))
			continue
		}
		if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, atomicfile.WriteFile(filepath.Join(o.OutDir, f.name), b.Bytes(), 0o644))
	}
	return errors.Join(errs...)
}
