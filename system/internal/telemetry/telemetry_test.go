package telemetry

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	collpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is a minimal OTLP/HTTP trace endpoint that records span names per service.
type receiver struct {
	mu      sync.Mutex
	spans   map[string][]string
	gate    chan struct{} // when non-nil, requests wait for it
	calls   int
	failing bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.gate != nil {
		<-rc.gate
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		body = gz
	}
	b, _ := io.ReadAll(body)
	var req collpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		w.WriteHeader(400)
		return
	}
	rc.mu.Lock()
	rc.calls++
	failing := rc.failing
	for _, rs := range req.ResourceSpans {
		svc := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == AttrServiceName {
				svc = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				rc.spans[svc] = append(rc.spans[svc], s.Name)
			}
		}
	}
	rc.mu.Unlock()
	if failing {
		w.WriteHeader(http.StatusBadRequest) // not retryable: the batch is lost
		return
	}
	out, _ := proto.Marshal(&collpb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestExportsToOTLPEndpoint(t *testing.T) {
	rc := &receiver{spans: map[string][]string{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	tel, err := Setup(context.Background(), "link", env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_, s := tel.Tracer.Start(context.Background(), "op")
		s.End()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if n := len(rc.spans["link"]); n != 10 {
		t.Fatalf("receiver got %d spans of service link, want 10 (%v)", n, rc.spans)
	}
	if tel.SpansDropped() != 0 {
		t.Fatalf("dropped = %d", tel.SpansDropped())
	}
}

// With a tiny queue and a stalled receiver spans are dropped, and every drop is counted.
func TestDroppedSpansCounted(t *testing.T) {
	rc := &receiver{spans: map[string][]string{}, gate: make(chan struct{})}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	tel, err := Setup(context.Background(), "x", env(map[string]string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": srv.URL + "/v1/traces",
		"OTEL_BSP_MAX_QUEUE_SIZE":            "10",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE":     "5",
		"OTEL_BSP_SCHEDULE_DELAY":            "10",
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for range n {
		_, s := tel.Tracer.Start(context.Background(), "op")
		s.End()
	}
	close(rc.gate)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = tel.Shutdown(ctx)
	rc.mu.Lock()
	got := len(rc.spans["x"])
	rc.mu.Unlock()
	dropped := tel.SpansDropped()
	if dropped == 0 {
		t.Fatal("no drop counted with a 10-span queue and 100 spans against a stalled receiver")
	}
	if int64(got)+dropped != n {
		t.Fatalf("received %d + dropped %d != %d ended: a span went missing uncounted", got, dropped, n)
	}
}

func TestExportFailuresCounted(t *testing.T) {
	rc := &receiver{spans: map[string][]string{}, failing: true}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	tel, err := Setup(context.Background(), "x", env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, s := tel.Tracer.Start(context.Background(), "op")
		s.End()
	}
	_ = tel.Shutdown(context.Background())
	if d := tel.SpansDropped(); d != 3 {
		t.Fatalf("dropped = %d, want 3 (the refused batch)", d)
	}
}

func TestBadEnv(t *testing.T) {
	for _, e := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_BSP_MAX_QUEUE_SIZE": "-1"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_BSP_SCHEDULE_DELAY": "1s"},
	} {
		if _, err := Setup(context.Background(), "x", env(e), nil); err == nil {
			t.Errorf("env %v accepted", e)
		}
	}
}
