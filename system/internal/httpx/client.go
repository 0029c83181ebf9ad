package httpx

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// Client pool sizes: every service talks to one or two peers at thousands of requests per
// second, so keep plenty of idle connections per host (the default of 2 halves throughput).
const (
	MaxIdleConns        = 1024
	MaxIdleConnsPerHost = 512
)

// NewClient returns a pooled, instrumented client for one edge ("redirect->link") to peer (the
// callee component). Each attempt gets a CLIENT span carrying peer.service, resilience.edge and
// resilience.attempt, and counts in http_client_requests_total. connect bounds dialing (0 =
// none); nothing else here bounds a call: its deadline is the context's, which the edge's
// pipeline sets from the profile (a profile without a timeout leaves the call unbounded).
func NewClient(t *telemetry.Telemetry, edge, peer string, connect time.Duration) *http.Client {
	rt := otelhttp.NewTransport(&attemptTransport{base: newTransport(connect), t: t, edge: edge, peer: peer},
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + peer }),
		otelhttp.WithSpanOptions(trace.WithAttributes(
			attribute.String(telemetry.AttrPeerService, peer),
			attribute.String(telemetry.AttrEdge, edge),
		)),
	)
	return &http.Client{
		Transport: rt,
		// Redirects are answers to pass on (gateway relays redirect's 302), never to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newTransport(connect time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // services talk to the given (proxy) addresses directly, never via HTTP_PROXY
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          MaxIdleConns,
		MaxIdleConnsPerHost:   MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second, // net/http's default; no request here sends Expect
		ForceAttemptHTTP2:     false,
	}
}

// attemptTransport runs inside the otelhttp client span: it labels the span with the attempt
// number and records the per-edge client metrics.
type attemptTransport struct {
	base       http.RoundTripper
	t          *telemetry.Telemetry
	edge, peer string
}

func (a *attemptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	span := trace.SpanFromContext(r.Context())
	if n := telemetry.AttemptFrom(r.Context()); n > 0 {
		span.SetAttributes(attribute.Int(telemetry.AttrAttempt, n))
	}
	start := time.Now()
	resp, err := a.base.RoundTrip(r)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	a.t.Metrics.HTTPClientRequests.WithLabelValues(a.edge, code).Inc()
	a.t.Metrics.HTTPClientDuration.WithLabelValues(a.edge).Observe(time.Since(start).Seconds())
	return resp, err
}
