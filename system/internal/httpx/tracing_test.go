package httpx

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

func recordingTel(t *testing.T) (*telemetry.Telemetry, *tracetest.SpanRecorder) {
	tel := newTel(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tel.Tracer, tel.TracerProvider = tp.Tracer("t"), tp
	return tel, rec
}

func attrsOf(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// A call from one service's client to another's instrumented route makes the two spans the
// lab reads: a CLIENT span (name "METHOD peer", peer.service, resilience.edge and .attempt,
// the status code; 4xx/5xx an error) and its child SERVER span (name "METHOD route",
// http.route, the status code; 5xx an error), in one trace.
func TestSpansAcrossAHop(t *testing.T) {
	for _, tc := range []struct {
		status                   int
		clientError, serverError bool
	}{{302, false, false}, {404, true, false}, {503, true, true}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			tel, rec := recordingTel(t)
			route := Instrument(tel, "GET /r/{code}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "https://example.com/")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte("body"))
			}))
			mux := http.NewServeMux()
			mux.Handle("GET /r/{code}", route)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			c := NewClient(tel, "gateway->redirect", "redirect", time.Second)
			ctx, parent := tel.Tracer.Start(context.Background(), "parent")
			req, _ := http.NewRequestWithContext(telemetry.WithAttempt(ctx, 2), "GET", srv.URL+"/r/abc", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range rec.Ended() {
				if s.SpanKind() == trace.SpanKindClient {
					t.Error("the client span ended before its body was read")
				}
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			parent.End()
			var client, server sdktrace.ReadOnlySpan
			for _, s := range rec.Ended() {
				switch s.SpanKind() {
				case trace.SpanKindClient:
					client = s
				case trace.SpanKindServer:
					server = s
				}
			}
			if client == nil || server == nil {
				t.Fatalf("spans %v: want a client and a server span", rec.Ended())
			}
			if client.Name() != "GET redirect" || server.Name() != "GET /r/{code}" {
				t.Errorf("names %q, %q", client.Name(), server.Name())
			}
			if client.Parent().SpanID() != parent.SpanContext().SpanID() || server.Parent().SpanID() != client.SpanContext().SpanID() ||
				server.SpanContext().TraceID() != parent.SpanContext().TraceID() {
				t.Error("the spans are not parent → client → server in one trace")
			}
			ca, sa := attrsOf(client), attrsOf(server)
			for k, want := range map[string]string{telemetry.AttrPeerService: "redirect", telemetry.AttrEdge: "gateway->redirect", attrMethod: "GET"} {
				if got := ca[attribute.Key(k)].AsString(); got != want {
					t.Errorf("client %s = %q, want %q", k, got, want)
				}
			}
			if ca[telemetry.AttrAttempt].AsInt64() != 2 || ca[telemetry.AttrHTTPStatusCode].AsInt64() != int64(tc.status) {
				t.Errorf("client attempt %v status %v", ca[telemetry.AttrAttempt], ca[telemetry.AttrHTTPStatusCode])
			}
			if sa[attrRoute].AsString() != "GET /r/{code}" || sa[attrMethod].AsString() != "GET" || sa[telemetry.AttrHTTPStatusCode].AsInt64() != int64(tc.status) {
				t.Errorf("server attributes %v", sa)
			}
			if got := client.Status().Code == codes.Error; got != tc.clientError {
				t.Errorf("client span error = %v, want %v", got, tc.clientError)
			}
			if got := server.Status().Code == codes.Error; got != tc.serverError {
				t.Errorf("server span error = %v, want %v", got, tc.serverError)
			}
		})
	}
}

func TestClientSpanOfAFailedCallIsAnError(t *testing.T) {
	tel, rec := recordingTel(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens: connection refused
	c := NewClient(tel, "a->b", "b", time.Second)
	req, _ := http.NewRequest("GET", addr+"/x", nil)
	if _, err := c.Do(req); err == nil {
		t.Fatal("call to a closed port succeeded")
	}
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Status().Code != codes.Error || len(spans[0].Events()) == 0 {
		t.Fatalf("spans %v: want one client span with error status and the error recorded", spans)
	}
}

// A route pattern without a method names its span by the request's method.
func TestServerSpanNameWithoutMethodInPattern(t *testing.T) {
	tel, rec := recordingTel(t)
	h := Instrument(tel, "/links", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/links", nil))
	if s := rec.Ended(); len(s) != 1 || s[0].Name() != "POST /links" || attrsOf(s[0])[attrMethod].AsString() != "POST" {
		t.Fatalf("spans %v", s)
	}
}
