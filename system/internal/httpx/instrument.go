package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// MaxBodyBytes caps any request body a service reads.
const MaxBodyBytes = 1 << 20

// Instrument wraps h, served under route (a pattern like "GET /r/{code}" or "/links"), with an
// otelhttp SERVER span named "METHOD route", RED metrics and panic recovery (500 JSON).
func Instrument(t *telemetry.Telemetry, route string, h http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		if r.Body != nil && r.Body != http.NoBody {
			// A ceiling for every route; handlers that decode JSON set a tighter one.
			r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				span := trace.SpanFromContext(r.Context())
				span.SetStatus(codes.Error, fmt.Sprint("panic: ", p))
				slog.Default().Error("httpx: handler panic", "route", route, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !rec.wrote {
					WriteError(rec, http.StatusInternalServerError, "internal", "internal error")
				}
				rec.status = http.StatusInternalServerError
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			t.Metrics.HTTPServerRequests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
			t.Metrics.HTTPServerDuration.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
			span := trace.SpanFromContext(r.Context())
			span.SetAttributes(attribute.Int(telemetry.AttrHTTPStatusCode, status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		}()
		h.ServeHTTP(rec, r)
	})
	return otelhttp.NewHandler(inner, route,
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return spanName(r.Method, route) }),
		otelhttp.WithSpanOptions(trace.WithAttributes(attribute.String("http.route", route))),
	)
}

// spanName is "METHOD route", without doubling a method the route pattern already names.
func spanName(method, route string) string {
	if len(route) > len(method) && route[:len(method)] == method && route[len(method)] == ' ' {
		return route
	}
	return method + " " + route
}

// statusRecorder remembers the status code; Unwrap keeps http.ResponseController working.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ErrNotFound helps handlers that answer unknown paths.
var ErrNotFound = errors.New("httpx: not found")

// NotFound answers 404 JSON for paths no route matches.
func NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, "not_found", "no route for "+r.Method+" "+r.URL.Path)
	})
}
