package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ResultsFile is the name of results.json in a run directory.
const ResultsFile = "results.json"

// WriteResults writes results to path atomically: a temporary file in the same directory is
// written, synced and renamed over path, so a reader never sees half a file and a crash
// leaves the previous version.
func WriteResults(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("reports: encode %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("reports: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	return nil
}

// ReadResults reads results.json. Unknown fields are ignored so older readers accept newer
// files (fields are only ever added).
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reports: read %s: %w", path, err)
	}
	if r.Scenario == "" || r.Verdict == "" {
		return nil, fmt.Errorf("reports: read %s: not a results file (no scenario or verdict)", path)
	}
	return &r, nil
}
