package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/faultline/faultline/reports/traces"
)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func boolKV(k string, v bool) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}}
}

func intKV(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// request builds an export request of n spans of service svc, ids numbered from first.
func request(svc string, first, n int) *coltracepb.ExportTraceServiceRequest {
	ss := &tracepb.ScopeSpans{}
	t0 := uint64(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano())
	for i := range n {
		id := first + i
		tid := make([]byte, 16)
		tid[0], tid[15] = 0xab, byte(id)
		tid[14] = byte(id >> 8)
		sid := []byte{1, 2, 3, 4, 5, 6, byte(id >> 8), byte(id)}
		ss.Spans = append(ss.Spans, &tracepb.Span{
			TraceId: tid, SpanId: sid, ParentSpanId: []byte{9, 9, 9, 9, 9, 9, 9, 9},
			Name: "GET link", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: t0 + uint64(i)*1e6, EndTimeUnixNano: t0 + uint64(i)*1e6 + 2e6,
			Attributes: []*commonpb.KeyValue{
				str(traces.AttrPeerService, "link"), str(traces.AttrEdge, "redirect->link"),
				intKV(traces.AttrAttempt, 2), boolKV(traces.AttrTimeout, true),
				str("http.request.method", "GET"), str("url.full", "http://127.0.0.1:1/links/abc"),
			},
			Events: []*tracepb.Span_Event{
				{Name: traces.EventBreakerTransition, TimeUnixNano: t0 + 5e5, Attributes: []*commonpb.KeyValue{
					str(traces.AttrEdge, "redirect->link"), str("from", "closed"), str("to", "open")}},
				{Name: "exception", TimeUnixNano: t0},
			},
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR},
		})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str(traces.AttrServiceName, svc)}},
		ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}}
}

func protoBody(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func post(h http.Handler, method, ctype, cenc string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, TracesPath, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if cenc != "" {
		req.Header.Set("Content-Encoding", cenc)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerStatuses(t *testing.T) {
	good := protoBody(t, request("redirect", 0, 3))
	jsonBody, _ := protojson.Marshal(request("redirect", 0, 3))
	big := bytes.Repeat([]byte{0}, 8192)
	for _, c := range []struct {
		name, method, ctype, cenc string
		body                      []byte
		code, stored              int
	}{
		{"protobuf", http.MethodPost, ContentProtobuf, "", good, 200, 3},
		{"protobuf gzip", http.MethodPost, ContentProtobuf, "gzip", gz(good), 200, 3},
		{"json", http.MethodPost, ContentJSON + "; charset=utf-8", "", jsonBody, 200, 3},
		{"empty request", http.MethodPost, ContentProtobuf, "", nil, 200, 0},
		{"get", http.MethodGet, ContentProtobuf, "", nil, 405, 0},
		{"text", http.MethodPost, "text/plain", "", good, 415, 0},
		{"no content type", http.MethodPost, "", "", good, 415, 0},
		{"brotli", http.MethodPost, ContentProtobuf, "br", good, 415, 0},
		{"garbage protobuf", http.MethodPost, ContentProtobuf, "", []byte{0xff, 0xff, 0xff}, 400, 0},
		{"garbage json", http.MethodPost, ContentJSON, "", []byte(`{"resourceSpans": 7}`), 400, 0},
		{"bad gzip", http.MethodPost, ContentProtobuf, "gzip", []byte("not gzip"), 400, 0},
		{"too large", http.MethodPost, ContentProtobuf, "", big, 413, 0},
		{"gzip bomb", http.MethodPost, ContentProtobuf, "gzip", gz(big), 413, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := NewReceiver(Options{MaxBodyBytes: 4000})
			// what is already stored survives a bad request
			post(r.Handler(), http.MethodPost, ContentProtobuf, "", protoBody(t, request("link", 100, 2)))
			rec := post(r.Handler(), c.method, c.ctype, c.cenc, c.body)
			if rec.Code != c.code {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body.String(), c.code)
			}
			if got := len(r.Spans()) - 2; got != c.stored {
				t.Errorf("stored %d spans, want %d", got, c.stored)
			}
			if c.code != 200 {
				if r.Stats().BadRequests != 1 || rec.Body.Len() == 0 {
					t.Errorf("bad requests = %d, body %q: want 1 and a message", r.Stats().BadRequests, rec.Body.String())
				}
				if c.code == 405 && rec.Header().Get("Allow") != http.MethodPost {
					t.Errorf("405 without Allow: POST")
				}
				return
			}
			resp := &coltracepb.ExportTraceServiceResponse{}
			var err error
			if strings.HasPrefix(c.ctype, ContentJSON) {
				err = protojson.Unmarshal(rec.Body.Bytes(), resp)
			} else {
				err = proto.Unmarshal(rec.Body.Bytes(), resp)
			}
			if err != nil || resp.GetPartialSuccess() != nil {
				t.Errorf("response %q: %v, partial %v", rec.Body.String(), err, resp.GetPartialSuccess())
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(c.ctype, ct) {
				t.Errorf("response content type %q for request %q", ct, c.ctype)
			}
		})
	}
}

func TestBadRequestMessage(t *testing.T) {
	r := NewReceiver(Options{})
	rec := post(r.Handler(), http.MethodPost, ContentJSON, "", []byte(`{`))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "otlp: decode") {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
	rec = post(r.Handler(), http.MethodPost, ContentProtobuf, "", []byte{0xff})
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "otlp: decode") {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("/v1/metrics: %d, want 404", rec.Code)
	}
}

func TestSpanLimit(t *testing.T) {
	r := NewReceiver(Options{MaxSpans: 5})
	for range 2 {
		rec := post(r.Handler(), http.MethodPost, ContentProtobuf, "", protoBody(t, request("link", 0, 4)))
		if rec.Code != 200 {
			t.Fatal(rec.Code)
		}
	}
	st := r.Stats()
	if len(r.Spans()) != 5 || st.Received != 5 || st.Dropped != 3 || st.Requests != 2 {
		t.Fatalf("spans %d, stats %+v; want 5 kept, 3 dropped", len(r.Spans()), st)
	}
	rec := post(r.Handler(), http.MethodPost, ContentProtobuf, "", protoBody(t, request("link", 0, 2)))
	resp := &coltracepb.ExportTraceServiceResponse{}
	if err := proto.Unmarshal(rec.Body.Bytes(), resp); err != nil || resp.GetPartialSuccess().GetRejectedSpans() != 2 {
		t.Errorf("partial success = %v (%v), want 2 rejected", resp.GetPartialSuccess(), err)
	}
	r.Reset()
	if len(r.Spans()) != 0 || r.Stats() != (Stats{}) {
		t.Errorf("after Reset: %d spans, %+v", len(r.Spans()), r.Stats())
	}
}

func TestConvert(t *testing.T) {
	r := NewReceiver(Options{})
	req := request("redirect", 7, 1)
	bad := request("redirect", 8, 2)
	bad.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId = []byte{1, 2, 3}
	bad.ResourceSpans[0].ScopeSpans[0].Spans[1].SpanId = make([]byte, 8) // all zero
	req.ResourceSpans = append(req.ResourceSpans, bad.ResourceSpans...)
	rec := post(r.Handler(), http.MethodPost, ContentProtobuf, "", protoBody(t, req))
	if rec.Code != 200 || r.Stats().Rejected != 2 {
		t.Fatalf("status %d, stats %+v: want 2 rejected", rec.Code, r.Stats())
	}
	spans := r.Spans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Service != "redirect" || s.Name != "GET link" || s.Kind != traces.KindClient || !s.StatusError ||
		s.Duration() != 2*time.Millisecond || s.ParentSpanID != (traces.SpanID{9, 9, 9, 9, 9, 9, 9, 9}) {
		t.Errorf("span %+v", s)
	}
	if s.TraceID.String() != "ab000000000000000000000000000007" || s.SpanID.String() != "0102030405060007" {
		t.Errorf("ids %s %s", s.TraceID, s.SpanID)
	}
	want := traces.Attrs{{Key: traces.AttrPeerService, Value: "link"}, {Key: traces.AttrEdge, Value: "redirect->link"},
		{Key: traces.AttrAttempt, Value: "2"}, {Key: traces.AttrTimeout, Value: "true"}}
	if fmt.Sprint(s.Attrs) != fmt.Sprint(want) {
		t.Errorf("attrs %v, want %v (url and method dropped)", s.Attrs, want)
	}
	if len(s.Events) != 1 || s.Events[0].Name != traces.EventBreakerTransition {
		t.Fatalf("events %+v, want only the breaker transition", s.Events)
	}
	if tr, ok := traces.BreakerEvent(&s, &s.Events[0]); !ok || tr.To != "open" || tr.From != "closed" {
		t.Errorf("breaker event read as %+v %v", tr, ok)
	}
}

// TestJSONHexIDs sends the OTLP JSON mapping as the spec writes it: hex ids, enum numbers,
// 64-bit integers as strings.
func TestJSONHexIDs(t *testing.T) {
	body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"gateway"}}]},
	"scopeSpans":[{"scope":{"name":"x"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
	"parentSpanId":"eee19b7ec3c1b173","name":"GET /r/{code}","kind":2,"startTimeUnixNano":"1544712660000000000",
	"endTimeUnixNano":"1544712661000000000","attributes":[{"key":"http.response.status_code","value":{"intValue":"302"}},
	{"key":"cache.hit","value":{"boolValue":true}}],"status":{"code":2},"unknownField":1}]}]}]}`
	r := NewReceiver(Options{})
	rec := post(r.Handler(), http.MethodPost, ContentJSON, "", []byte(body))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	s := r.Spans()[0]
	if s.TraceID.String() != "5b8efff798038103d269b633813fc60c" || s.SpanID.String() != "eee19b7ec3c1b174" ||
		s.ParentSpanID.String() != "eee19b7ec3c1b173" {
		t.Errorf("ids %s %s %s", s.TraceID, s.SpanID, s.ParentSpanID)
	}
	if s.Kind != traces.KindServer || !s.StatusError || s.Attr(traces.AttrStatusCode) != "302" || !s.Bool(traces.AttrCacheHit) ||
		s.Duration() != time.Second {
		t.Errorf("span %+v", s)
	}
	// ids that are neither hex nor of the right length are rejected, not mangled
	bad := strings.Replace(body, "5b8efff798038103d269b633813fc60c", "5b8e", 1)
	r2 := NewReceiver(Options{})
	if rec := post(r2.Handler(), http.MethodPost, ContentJSON, "", []byte(bad)); rec.Code != 200 || r2.Stats().Rejected != 1 {
		t.Errorf("short id: %d, %+v", rec.Code, r2.Stats())
	}
}

func TestCopyID(t *testing.T) {
	var dst [8]byte
	raw, _ := hex.DecodeString("00ff10203040aabb")
	if !copyID(dst[:], raw, false) || dst != [8]byte(raw) {
		t.Errorf("raw id: %x", dst)
	}
	if copyID(dst[:], make([]byte, 12), false) {
		t.Errorf("12 bytes accepted without JSON")
	}
}

func TestStartLoopbackOnly(t *testing.T) {
	r := NewReceiver(Options{})
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:4318", ":0"} {
		if _, err := r.Start(context.Background(), addr); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Start(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
	ep, err := r.Start(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	resp, err := http.Post(ep+TracesPath, ContentProtobuf, bytes.NewReader(protoBody(t, request("link", 0, 2))))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(r.Spans()) != 2 || r.Stats().Bytes == 0 {
		t.Errorf("status %d, %d spans, %+v", resp.StatusCode, len(r.Spans()), r.Stats())
	}
	if _, err := r.Start(context.Background(), ""); err == nil {
		t.Errorf("second Start succeeded")
	}
}

func TestForward(t *testing.T) {
	sink := NewReceiver(Options{})
	sinkEP, err := sink.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	r := NewReceiver(Options{Forward: sinkEP})
	body := gz(protoBody(t, request("link", 0, 3)))
	for range 2 {
		if rec := post(r.Handler(), http.MethodPost, ContentProtobuf, "gzip", body); rec.Code != 200 {
			t.Fatal(rec.Code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil { // drains the queue
		t.Fatal(err)
	}
	if n := len(sink.Spans()); n != 6 {
		t.Errorf("sink got %d spans, want 6; stats %+v", n, r.Stats())
	}
	// after Close, nothing more is forwarded, and that is counted
	post(r.Handler(), http.MethodPost, ContentProtobuf, "gzip", body)
	if st := r.Stats(); st.ForwardDropped != 1 || st.ForwardErrors != 0 {
		t.Errorf("stats %+v, want 1 forward dropped", st)
	}
}

func TestForwardQueueFull(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer slow.Close()
	r := NewReceiver(Options{Forward: slow.URL, ForwardQueue: 1})
	body := protoBody(t, request("link", 0, 1))
	for range 5 {
		if rec := post(r.Handler(), http.MethodPost, ContentProtobuf, "", body); rec.Code != 200 {
			t.Fatal(rec.Code)
		}
	}
	// one in flight at most, one queued: at least 3 dropped, and the exporter never waited
	if st := r.Stats(); st.ForwardDropped < 3 || st.Received != 5 {
		t.Errorf("stats %+v, want ≥3 forward drops and 5 spans kept", st)
	}
	close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.Close(ctx)
	if st := r.Stats(); st.ForwardErrors+st.ForwardDropped != 5 {
		t.Errorf("stats %+v: every body either failed (503) or was dropped", st)
	}
}

func FuzzHandler(f *testing.F) {
	good, _ := proto.Marshal(request("redirect", 0, 2))
	js, _ := protojson.Marshal(request("redirect", 0, 1))
	f.Add(good, false, false)
	f.Add(gz(good), false, true)
	f.Add(js, true, false)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"00"}]}]}]}`), true, false)
	f.Add([]byte{0x1f, 0x8b, 8, 0}, false, true)
	f.Fuzz(func(t *testing.T, body []byte, json, gzipped bool) {
		r := NewReceiver(Options{MaxBodyBytes: 1 << 16})
		ctype, cenc := ContentProtobuf, ""
		if json {
			ctype = ContentJSON
		}
		if gzipped {
			cenc = "gzip"
		}
		rec := post(r.Handler(), http.MethodPost, ctype, cenc, body)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		for _, s := range r.Spans() {
			if s.TraceID.IsZero() || s.SpanID.IsZero() {
				t.Fatalf("stored a span with a zero id: %+v", s)
			}
		}
	})
}

func TestConcurrentExports(t *testing.T) {
	r := NewReceiver(Options{})
	ctx := context.Background()
	ep, err := r.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	body := gz(protoBody(t, request("link", 0, 50)))
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for range 10 {
				req, _ := http.NewRequest(http.MethodPost, ep+TracesPath, bytes.NewReader(body))
				req.Header.Set("Content-Type", ContentProtobuf)
				req.Header.Set("Content-Encoding", "gzip")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n, st := len(r.Spans()), r.Stats(); n != 8*10*50 || st.Requests != 80 || st.Received != n {
		t.Errorf("%d spans, %+v; want 4000 from 80 requests", n, st)
	}
	if _, err := r.Start(ctx, ""); err == nil {
		t.Errorf("Start after Close succeeded")
	}
}
