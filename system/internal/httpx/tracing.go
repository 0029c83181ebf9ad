package httpx

import (
	"io"
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// The services' HTTP spans are made here rather than by otelhttp: otelhttp records its own
// OpenTelemetry metrics on every request and span (no option turns them off; with no meter
// provider they are built and thrown away) and a dozen semconv attributes the lab drops on
// ingestion. On a cached redirect that was ≈ 7 % of the gateway's CPU (pprof, 2026-12-02).
// The spans keep what the lab reads (docs/contracts.md, reports/traces.KeptAttrs): name,
// kind, parent across hops (W3C trace context), http.route, http.request.method,
// http.response.status_code, peer.service, resilience.edge and .attempt, and otelhttp's
// status rules (server: 5xx is an error; client: a transport error or a 4xx/5xx).

// Attributes of the OpenTelemetry HTTP semantic conventions the spans carry besides
// telemetry's own (the lab reads http.route: reports/traces.AttrHTTPRoute).
const (
	attrMethod = "http.request.method"
	attrRoute  = "http.route"
)

// serverSpans wraps h, served under route, in a SERVER span per request named "METHOD route"
// (spanName), continuing the caller's trace. A route pattern that names its method has its
// name and attributes built once.
func serverSpans(t *telemetry.Telemetry, route string, h http.Handler) http.Handler {
	routeAttr := attribute.String(attrRoute, route)
	kind := trace.WithSpanKind(trace.SpanKindServer)
	var fixedName string
	var fixed []trace.SpanStartOption
	if method, _, ok := strings.Cut(route, " "); ok && spanName(method, route) == route {
		fixedName = route
		fixed = []trace.SpanStartOption{kind, trace.WithAttributes(routeAttr, attribute.String(attrMethod, method))}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		var span trace.Span
		if fixed != nil && strings.HasPrefix(route, r.Method+" ") {
			ctx, span = t.Tracer.Start(ctx, fixedName, fixed...)
		} else {
			ctx, span = t.Tracer.Start(ctx, spanName(r.Method, route), kind, trace.WithAttributes(routeAttr, attribute.String(attrMethod, r.Method)))
		}
		defer span.End()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// tracingTransport makes one CLIENT span per request, ended when the answer's body is read
// to its end or closed (so an attempt's span covers a slow body too), and injects the trace
// context into the request.
type tracingTransport struct {
	base   http.RoundTripper
	t      *telemetry.Telemetry
	peer   string
	fixed  []attribute.KeyValue // peer.service and resilience.edge, built once
	byVerb sync.Map             // method -> span name "METHOD peer"
}

func newTracingTransport(base http.RoundTripper, t *telemetry.Telemetry, edge, peer string) *tracingTransport {
	return &tracingTransport{base: base, t: t, peer: peer, fixed: []attribute.KeyValue{
		attribute.String(telemetry.AttrPeerService, peer),
		attribute.String(telemetry.AttrEdge, edge),
	}}
}

func (tt *tracingTransport) name(method string) string {
	if n, ok := tt.byVerb.Load(method); ok {
		return n.(string)
	}
	n := method + " " + tt.peer
	tt.byVerb.Store(method, n)
	return n
}

func (tt *tracingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := tt.t.Tracer.Start(r.Context(), tt.name(r.Method),
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(tt.fixed...))
	span.SetAttributes(attribute.String(attrMethod, r.Method))
	r = r.Clone(ctx) // RoundTrippers must not modify the caller's request
	tt.t.Propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := tt.base.RoundTrip(r)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return resp, err
	}
	span.SetAttributes(attribute.Int(telemetry.AttrHTTPStatusCode, resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, "")
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		span.End()
		return resp, nil
	}
	resp.Body = &spanBody{ReadCloser: resp.Body, span: span}
	return resp, nil
}

// spanBody ends the client span once, at the body's end or close, whichever comes first.
type spanBody struct {
	io.ReadCloser
	span trace.Span
	once sync.Once
}

func (b *spanBody) end(err error) {
	b.once.Do(func() {
		if err != nil && err != io.EOF {
			b.span.RecordError(err)
			b.span.SetStatus(codes.Error, err.Error())
		}
		b.span.End()
	})
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end(err)
	}
	return n, err
}

func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.end(nil)
	return err
}
