package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/faultline/faultline/internal/atomicfile"
)

// WriteJSON writes r in results.json's layout: indented by two spaces, one trailing newline.
func WriteJSON(w io.Writer, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("reports: encode results: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteResults writes results to path atomically (atomicfile): a reader never sees half a
// file and a crash leaves the previous version.
func WriteResults(path string, r *Results) error {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("reports: %w", err)
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
