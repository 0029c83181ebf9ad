package resilience

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	Shed: func(r *http.Response, err error) bool {
		return err == nil && r != nil && r.Header.Get(ShedHeader) != ""
	},
	Discard: discardBody,
}

// MaxBufferedBody caps the response body Do reads within an attempt; answers in this system
// are small JSON documents.
const MaxBufferedBody = 4 << 20

// Do runs call through the pipeline. The caller owns the returned response's body. fallback
// (may be nil) answers instead of a failure when the profile enables a fallback for this edge.
//
// The body is read within the attempt: the timeout policy cancels the attempt's context as soon
// as the attempt returns, which would cut a body still being read by the caller (seen: 3,963 of
// 1 MiB, then "context canceled"). Reading it here also makes the timeout cover the whole
// answer, not just its headers.
func (h *HTTPPipeline) Do(ctx context.Context, call func(ctx context.Context) (*http.Response, error), fallback func(ctx context.Context, err error) (*http.Response, error)) (*http.Response, error) {
	return h.Get(ctx, func(ctx context.Context) (*http.Response, error) {
		resp, err := call(ctx)
		if err != nil || resp == nil || resp.Body == nil {
			return resp, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBufferedBody+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("resilience: read answer: %w", err)
		}
		if len(body) > MaxBufferedBody {
			return nil, fmt.Errorf("resilience: answer larger than %d bytes", MaxBufferedBody)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}, fallback)
}

// discardBody drains a little and closes, so the connection can go back to the pool.
func discardBody(r *http.Response) {
	if r == nil || r.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, r.Body, 64<<10)
	_ = r.Body.Close()
}
