package otlp

import (
	"math"
	"net/http"
	"reflect"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/faultline/faultline/reports/traces"
)

// wireCases are bodies that lean on the wire format's rules: repeated singular fields, merged
// messages, fields out of order, wrong wire types, values outside the enums.
func wireCases(t testing.TB) map[string][]byte {
	base := protoBody(t, request("redirect", 0, 3))
	span := protoBody(t, request("link", 40, 1).ResourceSpans[0].ScopeSpans[0].Spans[0])
	tag := func(b []byte, num protowire.Number, typ protowire.Type) []byte {
		return protowire.AppendTag(b, num, typ)
	}
	bytesField := func(b []byte, num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(tag(b, num, protowire.BytesType), v)
	}
	varint := func(b []byte, num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(tag(b, num, protowire.VarintType), v)
	}
	kv := func(key string, value []byte) []byte {
		return bytesField(bytesField(nil, fKeyValueKey, []byte(key)), fKeyValueValue, value)
	}
	wrap := func(spans ...[]byte) []byte { // one ResourceSpans of service "svc" holding spans
		var ss []byte
		for _, s := range spans {
			ss = bytesField(ss, fScopeSpansSpans, s)
		}
		rs := bytesField(nil, fResourceSpansScope, ss)
		rs = bytesField(rs, fResourceSpansResource, bytesField(nil, fResourceAttributes,
			kv(traces.AttrServiceName, bytesField(nil, fAnyString, []byte("svc")))))
		return bytesField(nil, fRequestResourceSpans, rs)
	}
	edge := func(v []byte) []byte { return bytesField(nil, fSpanAttributes, kv(traces.AttrEdge, v)) }
	cases := map[string][]byte{
		"plain":                  base,
		"two requests merged":    append(append([]byte{}, base...), protoBody(t, request("gateway", 9, 2))...),
		"resource after spans":   wrap(span),
		"kind repeated":          wrap(varint(varint(append([]byte{}, span...), fSpanKind, 2), fSpanKind, 4)),
		"kind out of range":      wrap(varint(append([]byte{}, span...), fSpanKind, 257)),
		"kind negative":          wrap(varint(append([]byte{}, span...), fSpanKind, math.MaxUint64)),
		"status merged":          wrap(bytesField(append([]byte{}, span...), fSpanStatus, bytesField(nil, 2, []byte("msg")))),
		"status code reset":      wrap(bytesField(append([]byte{}, span...), fSpanStatus, varint(nil, fStatusCode, 0))),
		"name as varint":         wrap(varint(append([]byte{}, span...), fSpanName, 7)),
		"name twice":             wrap(bytesField(append([]byte{}, span...), fSpanName, []byte("second"))),
		"value oneof switched":   wrap(append(append([]byte{}, span...), edge(varint(bytesField(nil, fAnyString, []byte("a->b")), fAnyInt, 5))...)),
		"value merged empty":     wrap(append(append([]byte{}, span...), bytesField(nil, fSpanAttributes, bytesField(kv(traces.AttrEdge, bytesField(nil, fAnyString, []byte("a->b"))), fKeyValueValue, nil))...)),
		"value array":            wrap(append(append([]byte{}, span...), edge(bytesField(bytesField(nil, fAnyString, []byte("a->b")), 5, nil))...)),
		"value double":           wrap(append(append([]byte{}, span...), edge(protowire.AppendFixed64(tag(nil, fAnyDouble, protowire.Fixed64Type), math.Float64bits(2.5)))...)),
		"value negative int":     wrap(append(append([]byte{}, span...), edge(varint(nil, fAnyInt, math.MaxUint64))...)),
		"value without a member": wrap(append(append([]byte{}, span...), edge(nil)...)),
		"service name an int": append(append([]byte{}, base...), bytesField(nil, fRequestResourceSpans, bytesField(bytesField(nil, fResourceSpansScope, bytesField(nil, fScopeSpansSpans, span)),
			fResourceSpansResource, bytesField(nil, fResourceAttributes, kv(traces.AttrServiceName, varint(nil, fAnyInt, 3)))))...),
		"event name last":    wrap(bytesField(append([]byte{}, span...), fSpanEvents, bytesField(bytesField(nil, fEventAttributes, kv("to", bytesField(nil, fAnyString, []byte("open")))), fEventName, []byte(traces.EventBreakerTransition)))),
		"short trace id":     wrap(bytesField(append([]byte{}, span...), fSpanTraceID, []byte{1, 2})),
		"empty parent":       wrap(bytesField(append([]byte{}, span...), fSpanParentID, nil)),
		"24-byte ids (JSON)": wrap(bytesField(bytesField(nil, fSpanTraceID, make([]byte, 24)), fSpanSpanID, []byte{0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdd, 0x37, 0x1d, 0xf7, 0xe7})),
		"truncated":          base[:len(base)-3],
		"bad utf-8 name":     wrap(bytesField(append([]byte{}, span...), fSpanName, []byte{0xff})),
		"stray end group":    wrap(tag(append([]byte{}, span...), 5, protowire.EndGroupType)),
		"empty":              nil,
	}
	cases["unknown group"] = wrap(tag(varint(tag(append([]byte{}, span...), 99, protowire.StartGroupType), 1, 5), 99, protowire.EndGroupType))
	return cases
}

// checkWire decodes body both ways and fails when the wire decoder gives other spans than
// proto.Unmarshal and the tree walk, or refuses a body they accept. It reports whether proto
// accepted it.
func checkWire(t *testing.T, body []byte, jsonIDs bool) bool {
	t.Helper()
	r := NewReceiver(Options{})
	got, gotRejected, err := r.decodeWire(body, jsonIDs)
	msg := &coltracepb.ExportTraceServiceRequest{}
	if perr := proto.Unmarshal(body, msg); perr != nil {
		return false // the wire decoder may be more lenient (fields it skips), never panic
	}
	if err != nil {
		t.Fatalf("wire decoder refused a body proto accepts: %v\n%x", err, body)
	}
	want, wantRejected := r.convertTree(msg, jsonIDs)
	for _, s := range [][]traces.Span{got, want} {
		for i := range s {
			if len(s[i].Attrs) == 0 {
				s[i].Attrs = nil
			}
			if len(s[i].Events) == 0 {
				s[i].Events = nil
			}
		}
	}
	if gotRejected != wantRejected || len(got) != len(want) {
		t.Fatalf("wire: %d spans, %d rejected; proto: %d spans, %d rejected\n%x", len(got), gotRejected, len(want), wantRejected, body)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("span %d:\nwire  %+v\nproto %+v\n%x", i, got[i], want[i], body)
		}
	}
	return true
}

func TestWireMatchesProto(t *testing.T) {
	refused := map[string]bool{"truncated": true, "bad utf-8 name": true, "stray end group": true}
	for name, body := range wireCases(t) {
		t.Run(name, func(t *testing.T) {
			for _, jsonIDs := range []bool{false, true} {
				if ok := checkWire(t, body, jsonIDs); ok == refused[name] {
					t.Fatalf("proto accepted: %v, want %v (the case no longer tests what it says)", ok, !refused[name])
				}
			}
			if refused[name] {
				if _, _, err := NewReceiver(Options{}).decodeWire(body, false); err == nil {
					t.Errorf("wire decoder accepted a body proto refuses in a field it reads")
				}
			}
		})
	}
	// what the cases are about, spelled out once
	r := NewReceiver(Options{})
	spans, _, _ := r.decodeWire(wireCases(t)["kind out of range"], false)
	if spans[0].Kind != traces.KindUnspecified {
		t.Errorf("kind 257 read as %v, want unspecified (not 257 mod 256 = internal)", spans[0].Kind)
	}
	spans, _, _ = r.decodeWire(wireCases(t)["plain"], false)
	next := spans[1].Attrs[0]
	_ = append(spans[0].Attrs, traces.Attr{Key: "k", Value: "v"})
	if spans[1].Attrs[0] != next {
		t.Errorf("appending to one span's attributes overwrote the next span's: %v", spans[1].Attrs[0])
	}
	spans, _, _ = r.decodeWire(wireCases(t)["resource after spans"], false)
	if spans[0].Service != "svc" {
		t.Errorf("service %q: a resource after its spans was not read first", spans[0].Service)
	}
}

// FuzzWireMatchesProto holds the wire decoder to proto.Unmarshal: on any body proto accepts,
// the same spans and the same count of rejected ones.
func FuzzWireMatchesProto(f *testing.F) {
	for _, body := range wireCases(f) {
		f.Add(body, false)
	}
	f.Fuzz(func(t *testing.T, body []byte, jsonIDs bool) {
		checkWire(t, body, jsonIDs)
	})
}

// BenchmarkDecode compares, on one export of 1000 service-shaped spans, the wire decoder with
// the tree (proto.Unmarshal, then the walk): the ratio of one run is the figure to quote.
func BenchmarkDecode(b *testing.B) {
	body := benchBody(b, 0)
	r := NewReceiver(Options{})
	b.Run("tree", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			msg := &coltracepb.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(body, msg); err != nil {
				b.Fatal(err)
			}
			r.convertTree(msg, false)
		}
	})
	b.Run("wire", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := r.decodeWire(body, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestWireThroughTheHandler: the handler answers 400 for what the decoder refuses and stores
// what it decodes, JSON included (decoded, re-encoded, read by the same decoder).
func TestWireThroughTheHandler(t *testing.T) {
	cases := wireCases(t)
	r := NewReceiver(Options{})
	if rec := post(r.Handler(), http.MethodPost, ContentProtobuf, "", cases["bad utf-8 name"]); rec.Code != http.StatusBadRequest {
		t.Errorf("invalid UTF-8: %d, want 400", rec.Code)
	}
	if rec := post(r.Handler(), http.MethodPost, ContentProtobuf, "", cases["plain"]); rec.Code != 200 || len(r.Spans()) != 3 {
		t.Errorf("plain: %d, %d spans", rec.Code, len(r.Spans()))
	}
	if s := r.Spans()[0]; s.Start != time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) || s.Kind != traces.KindClient ||
		s.Attr(traces.AttrAttempt) != "2" {
		t.Errorf("span %+v", s)
	}
}
