package events

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/natsd"
	"github.com/faultline/faultline/system/internal/telemetry"
)

func value(m prometheus.Metric) float64 {
	var d dto.Metric
	_ = m.Write(&d)
	return d.GetCounter().GetValue()
}

func setup(t *testing.T) (jetstream.JetStream, *telemetry.Telemetry) {
	t.Helper()
	s, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	nc, js, err := Connect(context.Background(), s.ClientURL(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	tel, err := telemetry.Setup(context.Background(), "test", func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return js, tel
}

func link(id string) Event {
	return Event{ID: id, Type: TypeLinkCreated, Code: "c-" + id, Account: "a", URL: "https://e.com", At: time.Now().UTC()}
}

func TestPublishDedup(t *testing.T) {
	js, tel := setup(t)
	ctx := context.Background()
	pub := NewPublisher(js, tel, "t->nats", true, nil)
	a1, err := pub.Publish(ctx, link("e1"))
	if err != nil || a1.Duplicate {
		t.Fatalf("first publish: %+v %v", a1, err)
	}
	a2, err := pub.Publish(ctx, link("e1"))
	if err != nil || !a2.Duplicate {
		t.Fatalf("second publish of the same id: %+v %v, want acked as duplicate", a2, err)
	}
	errs := pub.PublishAll(ctx, []Event{link("e1"), link("e2")}, nil)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	st, _ := js.Stream(ctx, StreamLinks)
	info, _ := st.Info(ctx)
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2 (e1 once, e2)", info.State.Msgs)
	}
	if v := value(tel.Metrics.EventsAcked.WithLabelValues(SubjectLinkCreated)); v != 4 {
		t.Fatalf("acked = %v, want 4", v)
	}
	// Without dedup the same id is stored again (what the no-dedup mutant does).
	raw := NewPublisher(js, tel, "t->nats", false, nil)
	if a, err := raw.Publish(ctx, link("e1")); err != nil || a.Duplicate {
		t.Fatalf("no-dedup publish: %+v %v", a, err)
	}
}

func TestConsumeTraceRedeliveryAndBadMessages(t *testing.T) {
	js, tel := setup(t)
	ctx := context.Background()
	pub := NewPublisher(js, tel, "t->nats", true, nil)

	var (
		mu      sync.Mutex
		traces  = map[string]trace.TraceID{}
		calls   = map[string]int{}
		failOne atomic.Bool
	)
	failOne.Store(true)
	done := make(chan struct{}, 10)
	stop, err := Consume(ctx, js, StreamLinks, "test-durable", func(ctx context.Context, ev Event) error {
		mu.Lock()
		calls[ev.ID]++
		traces[ev.ID] = trace.SpanContextFromContext(ctx).TraceID()
		mu.Unlock()
		if ev.ID == "flaky" && failOne.CompareAndSwap(true, false) {
			return errors.New("store down")
		}
		done <- struct{}{}
		if ev.ID == "dup" {
			return ErrDuplicate
		}
		return nil
	}, WithTelemetry(tel), WithNakDelay(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	pctx, span := tel.Tracer.Start(ctx, "request")
	if _, err := pub.Publish(pctx, link("traced")); err != nil {
		t.Fatal(err)
	}
	span.End()
	_, _ = pub.Publish(ctx, link("flaky"))
	_, _ = pub.Publish(ctx, link("dup"))
	if _, err := js.Publish(ctx, SubjectLinkCreated, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("events not consumed")
		}
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	if traces["traced"] != span.SpanContext().TraceID() {
		t.Errorf("consumer trace %s, want the publisher's %s", traces["traced"], span.SpanContext().TraceID())
	}
	if calls["flaky"] != 2 {
		t.Errorf("flaky handled %d times, want 2 (nak then redelivery)", calls["flaky"])
	}
	m := tel.Metrics.EventsConsumed
	if v := value(m.WithLabelValues(SubjectLinkCreated, telemetry.ConsumedError)); v != 2 {
		t.Errorf("errors = %v, want 2 (the nak and the malformed message)", v)
	}
	if v := value(m.WithLabelValues(SubjectLinkCreated, telemetry.ConsumedDuplicate)); v != 1 {
		t.Errorf("duplicates = %v, want 1", v)
	}
	if v := value(m.WithLabelValues(SubjectLinkCreated, telemetry.ConsumedProcessed)); v != 2 {
		t.Errorf("processed = %v, want 2", v)
	}
}

func TestDecode(t *testing.T) {
	for _, bad := range []string{"", "{}", `{"id":"x","type":"click"}`, "[1]", `{"id":1}`} {
		if _, err := Decode([]byte(bad)); !errors.Is(err, ErrBadEvent) {
			t.Errorf("Decode(%q) = %v, want ErrBadEvent", bad, err)
		}
	}
	if _, err := SubjectFor("nope"); err == nil {
		t.Error("unknown type accepted")
	}
	if s, _ := SubjectFor(TypeClick); s != SubjectClick {
		t.Errorf("click subject = %s", s)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"1","type":"click","code":"abc","at":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(b)
		if err == nil && (ev.ID == "" || ev.Code == "" || ev.Type == "") {
			t.Fatalf("accepted incomplete event %+v", ev)
		}
	})
}

type progressCounter struct{ n atomic.Int32 }

func (p *progressCounter) InProgress() error { p.n.Add(1); return nil }

// TestWithProgressKeepsASlowMessage: a handler slower than the interval tells NATS it is
// still working once per interval (else its message is redelivered at AckWait); a fast one
// never does, and nothing is sent once the handler has returned.
func TestWithProgressKeepsASlowMessage(t *testing.T) {
	const iv = 20 * time.Millisecond
	var slow progressCounter
	_ = withProgress(&slow, iv, func() error { time.Sleep(5*iv + iv/2); return nil })
	after := slow.n.Load()
	if after < 3 || after > 5 {
		t.Errorf("a handler of 5.5 intervals sent %d InProgress, want about 5", after)
	}
	time.Sleep(3 * iv)
	if got := slow.n.Load(); got != after {
		t.Errorf("%d InProgress sent after the handler returned", got-after)
	}
	var fast progressCounter
	want := errors.New("handler's own error")
	if err := withProgress(&fast, iv, func() error { return want }); err != want {
		t.Errorf("withProgress returned %v, want the handler's error", err)
	}
	time.Sleep(2 * iv)
	if got := fast.n.Load(); got != 0 {
		t.Errorf("a handler that returned at once sent %d InProgress", got)
	}
}
