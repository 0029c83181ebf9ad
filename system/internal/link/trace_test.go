package link

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	collpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/faultline/faultline/system/internal/billing"
	"github.com/faultline/faultline/system/internal/systemtest"
)

type gotSpan struct {
	service, name, trace string
	kind                 tracepb.Span_SpanKind
	attrs                map[string]string
}

// otlpSink is a minimal OTLP/HTTP receiver keeping every span.
type otlpSink struct {
	mu    sync.Mutex
	spans []gotSpan
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req collpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		w.WriteHeader(400)
		return
	}
	s.mu.Lock()
	for _, rs := range req.ResourceSpans {
		svc := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == "service.name" {
				svc = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				g := gotSpan{service: svc, name: sp.Name, trace: hex.EncodeToString(sp.TraceId), kind: sp.Kind, attrs: map[string]string{}}
				for _, kv := range sp.Attributes {
					g.attrs[kv.Key] = attrString(kv.Value)
				}
				s.spans = append(s.spans, g)
			}
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&collpb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func attrString(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	}
	return v.String()
}

// One create request is one trace: link's server span, its quota call, billing's server
// span, the SQL span, the publish by the relay and billing's consumer span.
func TestIntegrationTraceAcrossHops(t *testing.T) {
	dsn := systemtest.Database(t)
	ns := systemtest.NATS(t)
	sink := &otlpSink{}
	recv := httptest.NewServer(sink)
	defer recv.Close()
	bill := systemtest.Start(t, "billing", billing.Run, map[string]string{
		"SQLITE_PATH": t.TempDir() + "/b.db", "NATS_URL": ns.ClientURL(), "OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL, "OTEL_BSP_SCHEDULE_DELAY": "50"}, "/healthz")
	billingURL := bill.URL
	lk := systemtest.Start(t, "link", Run, map[string]string{
		"DATABASE_URL": dsn, "BILLING_URL": billingURL, "NATS_URL": ns.ClientURL(), "OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL, "OTEL_BSP_SCHEDULE_DELAY": "50"}, "/healthz")
	linkURL := lk.URL
	status, body := postLink(t, linkURL, "https://example.com/traced", "tr")
	if status != 201 {
		t.Fatalf("create: %d %v", status, body)
	}
	systemtest.Eventually(t, "usage counted", 10*time.Second, func() (bool, string) {
		n := usage(t, billingURL, "tr")
		return n == 1, fmt.Sprint(n)
	})
	lk.Stop() // flushes spans
	bill.Stop()

	sink.mu.Lock()
	defer sink.mu.Unlock()
	var root *gotSpan
	for i, s := range sink.spans {
		if s.service == "link" && s.name == "POST /links" && s.kind == tracepb.Span_SPAN_KIND_SERVER {
			root = &sink.spans[i]
		}
	}
	if root == nil {
		t.Fatalf("no SERVER span POST /links from link among %d spans", len(sink.spans))
	}
	if root.attrs["link.quota_checked"] != "true" {
		t.Errorf("server span lacks link.quota_checked: %v", root.attrs)
	}
	want := []struct {
		service, name string
		kind          tracepb.Span_SpanKind
		peer, edge    string
	}{
		{"link", "GET billing", tracepb.Span_SPAN_KIND_CLIENT, "billing", "link->billing"},
		{"billing", "GET /quota/{account}", tracepb.Span_SPAN_KIND_SERVER, "", ""},
		{"link", "INSERT links", tracepb.Span_SPAN_KIND_CLIENT, "link-db", "link->link-db"},
		{"link", "publish links.created", tracepb.Span_SPAN_KIND_CLIENT, "nats", "link->nats"},
		{"billing", "process links.created", tracepb.Span_SPAN_KIND_CONSUMER, "", ""},
	}
	for _, w := range want {
		found := false
		for _, s := range sink.spans {
			if s.service == w.service && s.name == w.name && s.trace == root.trace && s.kind == w.kind {
				found = true
				if w.peer != "" && (s.attrs["peer.service"] != w.peer || s.attrs["resilience.edge"] != w.edge) {
					t.Errorf("%s %q: attrs %v, want peer.service %s and resilience.edge %s", w.service, w.name, s.attrs, w.peer, w.edge)
				}
			}
		}
		if !found {
			t.Errorf("no %v span %q from %s in the request's trace %s", w.kind, w.name, w.service, root.trace)
		}
	}
}
