package otlp

import (
	"strconv"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/faultline/faultline/reports/traces"
)

// The reference the wire decoder is held to: the request decoded by proto.Unmarshal into the
// generated tree and converted from it field by field (the receiver's own way until it read
// the wire directly). FuzzWireMatchesProto and BenchmarkDecode compare the two.

// convertTree turns a request into compact spans, keeping only the attributes and events the
// analysis reads. rejected counts spans with an invalid trace or span id. For JSON bodies the
// ids are hex (the OTLP JSON mapping) but protojson decodes bytes fields as base64; fixID
// undoes that.
func (r *Receiver) convertTree(req *coltracepb.ExportTraceServiceRequest, jsonIDs bool) (spans []traces.Span, rejected int) {
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	spans = make([]traces.Span, 0, n)
	for _, rs := range req.GetResourceSpans() {
		service := "unknown_service"
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == traces.AttrServiceName {
				service = r.in.get(kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, ps := range ss.GetSpans() {
				s, ok := r.span(ps, service, jsonIDs)
				if !ok {
					rejected++
					continue
				}
				spans = append(spans, s)
			}
		}
	}
	return spans, rejected
}

func (r *Receiver) span(ps *tracepb.Span, service string, jsonIDs bool) (traces.Span, bool) {
	s := traces.Span{
		Service:     service,
		Name:        r.in.get(ps.GetName()),
		Kind:        spanKind(int32(ps.GetKind())),
		Start:       unixNano(ps.GetStartTimeUnixNano()),
		End:         unixNano(ps.GetEndTimeUnixNano()),
		StatusError: ps.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
	}
	if !copyID(s.TraceID[:], ps.GetTraceId(), jsonIDs) || s.TraceID.IsZero() ||
		!copyID(s.SpanID[:], ps.GetSpanId(), jsonIDs) || s.SpanID.IsZero() {
		return s, false
	}
	if p := ps.GetParentSpanId(); len(p) > 0 && !copyID(s.ParentSpanID[:], p, jsonIDs) {
		return s, false
	}
	s.Attrs = r.attrs(ps.GetAttributes(), traces.Kept)
	for _, ev := range ps.GetEvents() {
		if !traces.KeptEvent(ev.GetName()) {
			continue
		}
		s.Events = append(s.Events, traces.Event{
			Name:  r.in.get(ev.GetName()),
			Time:  unixNano(ev.GetTimeUnixNano()),
			Attrs: r.attrs(ev.GetAttributes(), nil),
		})
	}
	return s, true
}

// attrs keeps the attributes keep accepts (all when keep is nil), values as strings.
func (r *Receiver) attrs(kvs []*commonpb.KeyValue, keep func(string) bool) traces.Attrs {
	n := 0
	for _, kv := range kvs {
		if keep == nil || keep(kv.GetKey()) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make(traces.Attrs, 0, n)
	for _, kv := range kvs {
		if keep != nil && !keep(kv.GetKey()) {
			continue
		}
		out = append(out, traces.Attr{Key: r.in.get(kv.GetKey()), Value: r.value(kv.GetValue())})
	}
	return out
}

func (r *Receiver) value(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return r.in.get(x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	case *commonpb.AnyValue_IntValue:
		if x.IntValue >= 0 && x.IntValue < int64(len(smallInts)) {
			return smallInts[x.IntValue]
		}
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	}
	return ""
}
