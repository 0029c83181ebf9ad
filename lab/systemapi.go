package lab

// This file is how the lab reads the system's own JSON endpoints (docs/contracts.md).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxJSONAnswer bounds what GetJSON decodes: the system's answers are small documents.
const maxJSONAnswer = 16 << 20

// GetJSON GETs url with c and decodes a 200 answer into v; with v nil it only checks for the
// 200 (a readiness probe). Any other status is an error naming the URL. Every lab backend and
// the runner's data checks read the system's JSON endpoints through it.
func GetJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if v == nil {
		return nil
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxJSONAnswer)).Decode(v)
}

// ClickLedger is redirect's GET /clicks (docs/contracts.md): what it acknowledged since it
// started.
type ClickLedger struct {
	Acked          map[string]int `json:"acked"`
	AckedTotal     int            `json:"acked_total"`
	PublishedTotal int            `json:"published_total"`
	Dropped        map[string]int `json:"dropped"`
}

// AnalyticsStats is analytics' GET /stats (docs/contracts.md).
type AnalyticsStats struct {
	ClicksTotal int            `json:"clicks_total"`
	Codes       map[string]int `json:"codes"` // code → clicks
	Links       map[string]int `json:"links"` // code → link-created events applied
}
