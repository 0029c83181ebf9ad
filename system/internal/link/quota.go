package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// Edge and peer of the quota call.
const (
	EdgeBilling = "link->billing"
	PeerBilling = "billing"
)

// errFailOpen is what the fail_open fallback answers: create the link without a quota check.
var errFailOpen = errors.New("link: quota unchecked (fail open)")

// Quota asks billing whether an account may create another link.
type Quota struct {
	base   string
	client *http.Client
	pipe   *resilience.HTTPPipeline
}

// QuotaResult is billing's answer, or the fallback's.
type QuotaResult struct {
	Checked bool // false when billing could not be asked and the fallback let the call through
	Allowed bool
}

// NewQuota builds the billing client and its pipeline once; connect bounds dialing (0 = none).
func NewQuota(base string, p resilience.EdgePolicy, connect time.Duration, t *telemetry.Telemetry, logger *slog.Logger) *Quota {
	return &Quota{
		base:   strings.TrimRight(base, "/"),
		client: httpx.NewClient(t, EdgeBilling, PeerBilling, connect),
		pipe:   resilience.NewHTTP(EdgeBilling, p, t, logger),
	}
}

// Check asks billing about account through the link->billing pipeline.
func (q *Quota) Check(ctx context.Context, account string) (QuotaResult, error) {
	target := q.base + "/quota/" + url.PathEscape(account)
	resp, err := q.pipe.Do(ctx, func(ctx context.Context) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		return q.client.Do(req)
	}, func(context.Context, error) (*http.Response, error) {
		return nil, errFailOpen
	})
	if errors.Is(err, errFailOpen) {
		return QuotaResult{Checked: false, Allowed: true}, nil
	}
	if err != nil {
		return QuotaResult{}, fmt.Errorf("link: quota: %w", err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return QuotaResult{}, fmt.Errorf("link: quota: billing answered %d", resp.StatusCode)
	}
	var body struct {
		Allowed *bool `json:"allowed"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil || body.Allowed == nil {
		return QuotaResult{}, fmt.Errorf("link: quota: unreadable billing answer")
	}
	return QuotaResult{Checked: true, Allowed: *body.Allowed}, nil
}
