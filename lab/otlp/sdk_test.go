package otlp

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/reports/traces"
)

// TestSDKExporter exports with the real OTel Go SDK exporter, as the services do.
func TestSDKExporter(t *testing.T) {
	for _, c := range []struct {
		name string
		comp otlptracehttp.Compression
	}{{"protobuf", otlptracehttp.NoCompression}, {"protobuf gzip", otlptracehttp.GzipCompression}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r := NewReceiver(Options{})
			ep, err := r.Start(ctx, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close(ctx)
			exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(strings.TrimPrefix(ep, "http://")),
				otlptracehttp.WithInsecure(), otlptracehttp.WithCompression(c.comp))
			if err != nil {
				t.Fatal(err)
			}
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
				sdktrace.WithResource(resource.NewSchemaless(attribute.String(traces.AttrServiceName, "redirect"))))
			tr := tp.Tracer("test")
			sctx, srv := tr.Start(ctx, "GET /r/{code}", trace.WithSpanKind(trace.SpanKindServer))
			srv.SetAttributes(attribute.Bool(traces.AttrCacheHit, false), attribute.Int(traces.AttrRetries, 2),
				attribute.Int(traces.AttrStatusCode, 302))
			for attempt := 1; attempt <= 3; attempt++ {
				_, cl := tr.Start(sctx, "GET link", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
					attribute.String(traces.AttrPeerService, "link"), attribute.String(traces.AttrEdge, "redirect->link"),
					attribute.Int(traces.AttrAttempt, attempt), attribute.String("url.full", "http://127.0.0.1/links/x")))
				cl.SetStatus(codes.Error, "timeout")
				cl.End()
			}
			srv.AddEvent(traces.EventBreakerTransition, trace.WithAttributes(attribute.String(traces.AttrEdge, "redirect->link"),
				attribute.String("from", "closed"), attribute.String("to", "open")))
			srv.End()
			if err := tp.Shutdown(ctx); err != nil { // flushes
				t.Fatal(err)
			}
			spans := r.Spans()
			if len(spans) != 4 {
				t.Fatalf("%d spans, want 4; stats %+v", len(spans), r.Stats())
			}
			var server traces.Span
			clients := 0
			for _, s := range spans {
				if s.Service != "redirect" {
					t.Errorf("service %q", s.Service)
				}
				switch s.Kind {
				case traces.KindServer:
					server = s
				case traces.KindClient:
					clients++
					if !s.StatusError || s.Attr(traces.AttrEdge) != "redirect->link" || s.Attr("url.full") != "" {
						t.Errorf("client span %+v", s)
					}
				}
			}
			if clients != 3 || server.SpanID.IsZero() || !server.ParentSpanID.IsZero() {
				t.Fatalf("spans %+v", spans)
			}
			for _, s := range spans {
				if s.Kind == traces.KindClient && (s.ParentSpanID != server.SpanID || s.TraceID != server.TraceID) {
					t.Errorf("client span not a child of the server span: %+v", s)
				}
			}
			if server.Attr(traces.AttrRetries) != "2" || server.Attr(traces.AttrCacheHit) != "false" || len(server.Events) != 1 {
				t.Errorf("server span %+v", server)
			}
			m := traces.Mechanisms(spans, nil, time.Time{}, nil, nil)
			if len(m.BreakerTransitions) != 1 || m.BreakerTransitions[0].Edge != "redirect->link" {
				t.Errorf("transitions %+v", m.BreakerTransitions)
			}
			if st := r.Stats(); st.Received != 4 || st.Dropped+st.Rejected+st.BadRequests != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
