package resilience

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// HTTPPipeline is the pipeline of one HTTP client edge. Build it once per edge.
type HTTPPipeline struct {
	*Executor[*http.Response]
}

// NewHTTP builds the pipeline of an HTTP edge: 5xx answers, timeouts and connection errors are
// failures; connection errors, timeouts and 502/503/504 are retried; 4xx never are.
func NewHTTP(edge string, p EdgePolicy, t *telemetry.Telemetry, logger *slog.Logger) *HTTPPipeline {
	return &HTTPPipeline{NewExecutor(edge, p, HTTPClassifier, t, logger)}
}

// HTTPClassifier classifies HTTP attempts.
var HTTPClassifier = Classifier[*http.Response]{
	Failure: func(r *http.Response, err error) bool {
		if err != nil {
			return true
		}
		return r != nil && r.StatusCode >= 500
	},
	Retryable: func(r *http.Response, err error) bool {
		if err != nil {
			return !errors.Is(err, context.Canceled)
		}
		switch r.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	},
	Discard: discardBody,
}

// Do runs call through the pipeline. The caller owns the returned response's body. fallback
// (may be nil) answers instead of a failure when the profile enables a fallback for this edge.
func (h *HTTPPipeline) Do(ctx context.Context, call func(ctx context.Context) (*http.Response, error), fallback func(ctx context.Context, err error) (*http.Response, error)) (*http.Response, error) {
	return h.Get(ctx, call, fallback)
}

// discardBody drains a little and closes, so the connection can go back to the pool.
func discardBody(r *http.Response) {
	if r == nil || r.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, r.Body, 64<<10)
	_ = r.Body.Close()
}
