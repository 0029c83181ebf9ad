package otlp

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/faultline/faultline/reports/traces"
)

// benchBody is one export of 1000 spans shaped like the services' (otelhttp attributes plus
// the resilience ones), 512 per batch being the SDK's default.
func benchBody(b *testing.B, first int) []byte {
	req := request("redirect", first, 1000)
	for _, s := range req.ResourceSpans[0].ScopeSpans[0].Spans {
		s.Events = nil // breaker transitions are rare
		s.Attributes = append(s.Attributes, str("server.address", "127.0.0.1"), intKV("server.port", 40123),
			str("network.protocol.version", "1.1"), intKV(traces.AttrStatusCode, 200),
			&commonpb.KeyValue{Key: "http.response.body.size", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 321}}})
	}
	return protoBody(b, req)
}

// BenchmarkIngest measures the handler end to end (decode, convert, store) in spans per second.
func BenchmarkIngest(b *testing.B) {
	body := benchBody(b, 0)
	r := NewReceiver(Options{})
	h := r.Handler()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		if rec := post(h, http.MethodPost, ContentProtobuf, "", body); rec.Code != 200 {
			b.Fatal(rec.Code)
		}
		if n++; n%500 == 0 {
			r.Reset() // stay far from MaxSpans so every span takes the storing path
		}
	}
	b.ReportMetric(float64(n*1000)/time.Since(start).Seconds(), "spans/s")
}

// BenchmarkHeldMemory measures the heap the stored spans keep, per span.
func BenchmarkHeldMemory(b *testing.B) {
	const requests = 200
	bodies := make([][]byte, requests)
	for i := range bodies {
		bodies[i] = benchBody(b, i*1000)
	}
	var perSpan float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := NewReceiver(Options{})
		for _, body := range bodies {
			post(r.Handler(), http.MethodPost, ContentProtobuf, "", body)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSpan = float64(after.HeapAlloc-before.HeapAlloc) / float64(len(r.Spans()))
		runtime.KeepAlive(r)
	}
	b.ReportMetric(perSpan, "B/span")
}
