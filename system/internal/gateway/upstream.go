package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// Edge names of gateway's upstream calls (docs/contracts.md).
const (
	EdgeRedirect  = "gateway->redirect"
	EdgeLink      = "gateway->link"
	EdgeAnalytics = "gateway->analytics"
)

// maxReplyBody bounds what the gateway reads from an upstream answer.
const maxReplyBody = 1 << 20

// Reply is an upstream answer, read whole inside the attempt.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Caller sends one request to a peer. An error means the pipeline could not get an answer
// (map it with resilience.StatusFor); any answer, 4xx and 5xx included, is a Reply.
type Caller interface {
	Call(ctx context.Context, method, path string, body []byte) (*Reply, error)
}

// Upstream is Caller over HTTP through one edge's resilience pipeline.
type Upstream struct {
	base   string
	client *http.Client
	pipe   *resilience.HTTPPipeline
}

// NewUpstream calls base (a peer's URL) with client through the pipeline of edge built from
// policy. Creating requests (POST) are retried only when the connection was refused: a retry
// after the request may have reached the peer could create a second link.
func NewUpstream(base, edge string, policy resilience.EdgePolicy, client *http.Client, t *telemetry.Telemetry, logger *slog.Logger) *Upstream {
	class := resilience.HTTPClassifier
	retryable := class.Retryable
	class.Retryable = func(r *http.Response, err error) bool {
		var nr *notRetryable
		if errors.As(err, &nr) {
			return false
		}
		if r != nil && r.Request != nil && r.Request.Method != http.MethodGet && r.Request.Method != http.MethodHead {
			return false
		}
		return retryable(r, err)
	}
	exec := resilience.NewExecutor(edge, policy, class, t, logger)
	return &Upstream{base: strings.TrimRight(base, "/"), client: client, pipe: &resilience.HTTPPipeline{Executor: exec}}
}

// notRetryable marks a failure of a non-idempotent request that may have reached the peer.
type notRetryable struct{ err error }

func (e *notRetryable) Error() string { return e.err.Error() }
func (e *notRetryable) Unwrap() error { return e.err }

// Call implements Caller.
func (u *Upstream) Call(ctx context.Context, method, path string, body []byte) (*Reply, error) {
	resp, err := u.pipe.Do(ctx, func(ctx context.Context) (*http.Response, error) {
		resp, err := u.attempt(ctx, method, path, body)
		if err != nil && method != http.MethodGet && method != http.MethodHead && !isDialError(err) {
			return nil, &notRetryable{err}
		}
		return resp, err
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("gateway: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // already in memory: see attempt
	return &Reply{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// attempt reads the whole answer inside the attempt: the pipeline cancels the attempt's
// context once it returns, which would cut a later body read, and the per-attempt timeout
// must cover a slow body too.
func (u *Upstream) attempt(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k := httpx.RequestKeyFrom(ctx); k != "" {
		req.Header.Set(httpx.HeaderRequestKey, k)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// isDialError says the connection was never made, so the request never left.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Ping checks the peer answers its /healthz (for /readyz), outside the pipeline so
// readiness probes never move the breaker.
func (u *Upstream) Ping(ctx context.Context) error {
	resp, err := u.attempt(ctx, http.MethodGet, "/healthz", nil)
	if err != nil {
		return fmt.Errorf("gateway: %s: %w", u.base, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gateway: %s/healthz answered %d", u.base, resp.StatusCode)
	}
	return nil
}
