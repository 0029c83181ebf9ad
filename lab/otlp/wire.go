package otlp

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/faultline/faultline/reports/traces"
)

// The receiver decodes an OTLP protobuf export straight from the wire into traces.Span: the
// generated message tree (≈ 60 allocations a span, a quarter of the lab's CPU under load, most
// of it for fields the analysis never reads) is never built. It reads what proto.Unmarshal
// would give for the fields it keeps — last value wins, a repeated message field's occurrences
// merge, a field of the wrong wire type is an unknown one — and refuses what proto.Unmarshal
// refuses in them (truncation, bad tags, unmatched groups, invalid UTF-8 in a string it
// reads). Fields it does not read (links, scopes, schema URLs, trace state, status messages,
// array and map attribute values) are skipped with their structure checked, not their
// contents. FuzzWireMatchesProto holds it to proto.Unmarshal on every body both accept.

// Field numbers of the OTLP trace protos (opentelemetry/proto/{collector/trace,trace,common,resource}/v1).
const (
	fRequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans

	fResourceSpansResource = 1 // ResourceSpans.resource
	fResourceSpansScope    = 2 // ResourceSpans.scope_spans
	fResourceAttributes    = 1 // Resource.attributes
	fScopeSpansSpans       = 2 // ScopeSpans.spans

	fSpanTraceID    = 1
	fSpanSpanID     = 2
	fSpanParentID   = 4
	fSpanName       = 5
	fSpanKind       = 6
	fSpanStart      = 7
	fSpanEnd        = 8
	fSpanAttributes = 9
	fSpanEvents     = 11
	fSpanStatus     = 15
	fStatusCode     = 3

	fEventTime       = 1
	fEventName       = 2
	fEventAttributes = 3

	fKeyValueKey   = 1
	fKeyValueValue = 2

	fAnyString = 1
	fAnyBool   = 2
	fAnyInt    = 3
	fAnyDouble = 4

	statusCodeError = 2 // Status.STATUS_CODE_ERROR
)

var errWire = errors.New("cannot parse invalid wire-format data")

// field is one field of a message on the wire: for bytes fields val is the payload, for
// varint and fixed fields num holds the value.
type field struct {
	num protowire.Number
	typ protowire.Type
	val []byte
	u   uint64
}

// fields walks the fields of one message, in wire order.
type fields struct {
	b   []byte
	err error
	f   field
}

// next reads the next field; false at the end or on an error (see err).
func (it *fields) next() bool {
	if len(it.b) == 0 || it.err != nil {
		return false
	}
	tag, n := protowire.ConsumeVarint(it.b)
	if n < 0 {
		it.err = errWire
		return false
	}
	num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
	if tag>>3 < uint64(protowire.MinValidNumber) || tag>>3 > uint64(protowire.MaxValidNumber) || typ == protowire.EndGroupType {
		it.err = errWire
		return false
	}
	b := it.b[n:]
	it.f = field{num: num, typ: typ}
	switch typ {
	case protowire.VarintType:
		it.f.u, n = protowire.ConsumeVarint(b)
	case protowire.Fixed64Type:
		it.f.u, n = protowire.ConsumeFixed64(b)
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(b)
		it.f.u = uint64(v)
	case protowire.BytesType:
		it.f.val, n = protowire.ConsumeBytes(b)
	default: // groups and reserved wire types: checked, skipped
		n = protowire.ConsumeFieldValue(num, typ, b)
	}
	if n < 0 {
		it.err = errWire
		return false
	}
	it.b = b[n:]
	return true
}

// bytesField reports whether f is field num as a length-delimited value (proto reads any
// other wire type for it as an unknown field).
func (f *field) bytesField(num protowire.Number) bool {
	return f.num == num && f.typ == protowire.BytesType
}

// wireDecoder decodes one request; scratch buffers are reused across its spans.
type wireDecoder struct {
	r       *Receiver
	jsonIDs bool
	// attrs are the kept attributes of the request's accepted spans, in order; ends[i] is
	// where span i's end. They go into one exact allocation once the request is decoded.
	attrs []traces.Attr
	ends  []int
}

// share gives each span its attributes from one allocation for the whole request, each slice
// capped so an append to one span's can never write into the next one's.
func (d *wireDecoder) share(spans []traces.Span) {
	if len(d.attrs) == 0 {
		return
	}
	all := make([]traces.Attr, len(d.attrs))
	copy(all, d.attrs)
	start := 0
	for i, end := range d.ends {
		if end > start {
			spans[i].Attrs = all[start:end:end]
		}
		start = end
	}
}

// decodeWire decodes an ExportTraceServiceRequest body into spans; rejected counts spans with
// an invalid trace or span id. jsonIDs: the body was re-encoded from OTLP JSON (see copyID).
func (r *Receiver) decodeWire(body []byte, jsonIDs bool) (spans []traces.Span, rejected int, err error) {
	n, err := countSpans(body)
	if err != nil {
		return nil, 0, err
	}
	d := decoders.Get().(*wireDecoder)
	*d = wireDecoder{r: r, jsonIDs: jsonIDs, attrs: d.attrs[:0], ends: d.ends[:0]}
	defer func() { d.r = nil; decoders.Put(d) }()
	spans = make([]traces.Span, 0, n)
	it := fields{b: body}
	for it.next() {
		if !it.f.bytesField(fRequestResourceSpans) {
			continue
		}
		if spans, rejected, err = d.resourceSpans(it.f.val, spans, rejected); err != nil {
			return nil, 0, err
		}
	}
	if it.err != nil {
		return nil, 0, it.err
	}
	d.share(spans)
	return spans, rejected, nil
}

// decoders keep their scratch buffers from one request to the next.
var decoders = sync.Pool{New: func() any { return new(wireDecoder) }}

// countSpans counts the spans of a request without decoding them, to size the result once.
func countSpans(body []byte) (int, error) {
	n := 0
	req := fields{b: body}
	for req.next() {
		if !req.f.bytesField(fRequestResourceSpans) {
			continue
		}
		rs := fields{b: req.f.val}
		for rs.next() {
			if !rs.f.bytesField(fResourceSpansScope) {
				continue
			}
			ss := fields{b: rs.f.val}
			for ss.next() {
				if ss.f.bytesField(fScopeSpansSpans) {
					n++
				}
			}
			if ss.err != nil {
				return 0, ss.err
			}
		}
		if rs.err != nil {
			return 0, rs.err
		}
	}
	return n, req.err
}

// resourceSpans decodes one ResourceSpans. Its resource may follow its spans on the wire, so
// the service name is read first.
func (d *wireDecoder) resourceSpans(b []byte, spans []traces.Span, rejected int) ([]traces.Span, int, error) {
	service, err := d.serviceName(b)
	if err != nil {
		return nil, 0, err
	}
	it := fields{b: b}
	for it.next() {
		if !it.f.bytesField(fResourceSpansScope) {
			continue
		}
		ss := fields{b: it.f.val}
		for ss.next() {
			if !ss.f.bytesField(fScopeSpansSpans) {
				continue
			}
			s, ok, err := d.span(ss.f.val, service)
			if err != nil {
				return nil, 0, err
			}
			if !ok {
				rejected++
				continue
			}
			spans = append(spans, s)
		}
		if ss.err != nil {
			return nil, 0, ss.err
		}
	}
	return spans, rejected, it.err
}

// serviceName is the resource's last service.name attribute ("" when its value is not a
// string), "unknown_service" without one. The resource field's occurrences merge.
func (d *wireDecoder) serviceName(b []byte) (string, error) {
	service := "unknown_service"
	it := fields{b: b}
	for it.next() {
		if !it.f.bytesField(fResourceSpansResource) {
			continue
		}
		res := fields{b: it.f.val}
		for res.next() {
			if !res.f.bytesField(fResourceAttributes) {
				continue
			}
			kv, err := d.keyValue(res.f.val)
			if err != nil {
				return "", err
			}
			if string(kv.key) == traces.AttrServiceName {
				service = ""
				if kv.kind == fAnyString {
					service = d.r.in.getBytes(kv.str)
				}
			}
		}
		if res.err != nil {
			return "", res.err
		}
	}
	return service, it.err
}

// span decodes one Span; ok is false for an invalid trace or span id.
func (d *wireDecoder) span(b []byte, service string) (s traces.Span, ok bool, err error) {
	var tid, sid, pid, name []byte
	var kind int32
	var start, end uint64
	var status uint64
	first := len(d.attrs)
	var events []traces.Event
	it := fields{b: b}
	for it.next() {
		f := &it.f
		switch {
		case f.bytesField(fSpanTraceID):
			tid = f.val
		case f.bytesField(fSpanSpanID):
			sid = f.val
		case f.bytesField(fSpanParentID):
			pid = f.val
		case f.bytesField(fSpanName):
			if !utf8.Valid(f.val) {
				return s, false, errUTF8("name")
			}
			name = f.val
		case f.num == fSpanKind && f.typ == protowire.VarintType:
			kind = int32(f.u)
		case f.num == fSpanStart && f.typ == protowire.Fixed64Type:
			start = f.u
		case f.num == fSpanEnd && f.typ == protowire.Fixed64Type:
			end = f.u
		case f.bytesField(fSpanAttributes):
			kv, err := d.keyValue(f.val)
			if err != nil {
				return s, false, err
			}
			if traces.Kept(string(kv.key)) {
				d.attrs = append(d.attrs, traces.Attr{Key: d.r.in.getBytes(kv.key), Value: d.value(kv)})
			}
		case f.bytesField(fSpanEvents):
			ev, keep, err := d.event(f.val)
			if err != nil {
				return s, false, err
			}
			if keep {
				events = append(events, ev)
			}
		case f.bytesField(fSpanStatus):
			st := fields{b: f.val}
			for st.next() {
				if st.f.num == fStatusCode && st.f.typ == protowire.VarintType {
					status = st.f.u
				}
			}
			if st.err != nil {
				return s, false, st.err
			}
		}
	}
	if it.err != nil {
		return s, false, it.err
	}
	s = traces.Span{
		Service:     service,
		Name:        d.r.in.getBytes(name),
		Kind:        spanKind(kind),
		Start:       unixNano(start),
		End:         unixNano(end),
		StatusError: int32(status) == statusCodeError,
		Events:      events,
	}
	if !copyID(s.TraceID[:], tid, d.jsonIDs) || s.TraceID.IsZero() ||
		!copyID(s.SpanID[:], sid, d.jsonIDs) || s.SpanID.IsZero() ||
		len(pid) > 0 && !copyID(s.ParentSpanID[:], pid, d.jsonIDs) {
		d.attrs = d.attrs[:first]
		return s, false, nil
	}
	d.ends = append(d.ends, len(d.attrs))
	return s, true, nil
}

// spanKind maps the wire's enum to a Kind; values outside OTLP's are unspecified.
func spanKind(k int32) traces.Kind {
	if k < 0 || k > int32(traces.KindConsumer) {
		return traces.KindUnspecified
	}
	return traces.Kind(k)
}

// event decodes a span event; keep says whether the analysis reads it (traces.KeptEvent).
// Its name may follow its attributes on the wire: they are decoded once it is known.
func (d *wireDecoder) event(b []byte) (ev traces.Event, keep bool, err error) {
	var name []byte
	var at uint64
	it := fields{b: b}
	for it.next() {
		f := &it.f
		switch {
		case f.num == fEventTime && f.typ == protowire.Fixed64Type:
			at = f.u
		case f.bytesField(fEventName):
			if !utf8.Valid(f.val) {
				return ev, false, errUTF8("event name")
			}
			name = f.val
		case f.bytesField(fEventAttributes):
			if _, err := d.keyValue(f.val); err != nil {
				return ev, false, err
			}
		}
	}
	if it.err != nil || !traces.KeptEvent(string(name)) {
		return ev, false, it.err
	}
	ev = traces.Event{Name: d.r.in.getBytes(name), Time: unixNano(at)}
	it = fields{b: b}
	for it.next() {
		if it.f.bytesField(fEventAttributes) {
			kv, _ := d.keyValue(it.f.val) // checked above
			ev.Attrs = append(ev.Attrs, traces.Attr{Key: d.r.in.getBytes(kv.key), Value: d.value(kv)})
		}
	}
	return ev, true, nil
}

// keyValue is an attribute as read: its key and the scalar its value holds (kind is the
// AnyValue field last set: fAnyString … fAnyDouble; 0 for none, -1 for any other).
type keyValue struct {
	key  []byte
	kind int
	str  []byte
	u    uint64
}

// keyValue decodes a KeyValue. Its value field's occurrences merge: the oneof member set last
// wins, and an occurrence that sets none changes nothing.
func (d *wireDecoder) keyValue(b []byte) (kv keyValue, err error) {
	it := fields{b: b}
	for it.next() {
		f := &it.f
		switch {
		case f.bytesField(fKeyValueKey):
			if !utf8.Valid(f.val) {
				return kv, errUTF8("attribute key")
			}
			kv.key = f.val
		case f.bytesField(fKeyValueValue):
			v := fields{b: f.val}
			for v.next() {
				g := &v.f
				switch {
				case g.bytesField(fAnyString):
					if !utf8.Valid(g.val) {
						return kv, errUTF8("attribute value")
					}
					kv.kind, kv.str = fAnyString, g.val
				case g.num == fAnyBool && g.typ == protowire.VarintType,
					g.num == fAnyInt && g.typ == protowire.VarintType,
					g.num == fAnyDouble && g.typ == protowire.Fixed64Type:
					kv.kind, kv.u = int(g.num), g.u
				case anyOtherMember(g):
					kv.kind = -1
				}
			}
			if v.err != nil {
				return kv, v.err
			}
		}
	}
	return kv, it.err
}

// anyOtherMember reports whether g sets one of AnyValue's other oneof members (array, map,
// bytes, string-table index), which the analysis reads as "".
func anyOtherMember(g *field) bool {
	switch g.num {
	case 5, 6, 7: // array_value, kvlist_value, bytes_value
		return g.typ == protowire.BytesType
	case 8: // string_value_strindex
		return g.typ == protowire.VarintType
	}
	return false
}

// value is an attribute's value as the analysis holds it.
func (d *wireDecoder) value(kv keyValue) string {
	switch kv.kind {
	case fAnyString:
		return d.r.in.getBytes(kv.str)
	case fAnyBool:
		if kv.u != 0 {
			return "true"
		}
		return "false"
	case fAnyInt:
		i := int64(kv.u)
		if i >= 0 && i < int64(len(smallInts)) {
			return smallInts[i]
		}
		return strconv.FormatInt(i, 10)
	case fAnyDouble:
		return strconv.FormatFloat(math.Float64frombits(kv.u), 'g', -1, 64)
	}
	return ""
}

func errUTF8(what string) error {
	return fmt.Errorf("%w: invalid UTF-8 in a span's %s", errWire, what)
}
