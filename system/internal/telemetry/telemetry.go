// Package telemetry sets up tracing (OTLP/HTTP), W3C propagation and the Prometheus metrics every service exports.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Batch span processor defaults, raised from the SDK's (queue 2048) so a load test does not
// silently lose spans; OTEL_BSP_* variables still win.
const (
	DefaultBSPMaxQueue      = 65536
	DefaultBSPMaxBatch      = 4096
	DefaultBSPScheduleDelay = 200 * time.Millisecond
	DefaultBSPExportTimeout = 5 * time.Second
)

// Telemetry is one service's tracer, propagator and metrics.
type Telemetry struct {
	Service        string
	Tracer         trace.Tracer
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	Registry       *prometheus.Registry
	Metrics        *Metrics

	sdk     *sdktrace.TracerProvider
	counter *countingProcessor
	logger  *slog.Logger
}

// Setup builds the telemetry of service. Tracing exports over OTLP/HTTP only when
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set; spans are still
// created otherwise, so trace context keeps flowing across hops.
func Setup(ctx context.Context, service string, getenv func(string) string, logger *slog.Logger) (*Telemetry, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(prometheus.WrapRegistererWith(prometheus.Labels{LabelService: service}, reg))

	res := resource.NewSchemaless(attribute.String(AttrServiceName, service))
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	var counter *countingProcessor
	endpoint, err := tracesEndpoint(getenv)
	if err != nil {
		return nil, err
	}
	if endpoint != "" {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			return nil, fmt.Errorf("telemetry: otlp exporter: %w", err)
		}
		bsp, err := bspOptions(getenv)
		if err != nil {
			return nil, err
		}
		counted := &countingExporter{SpanExporter: exp, dropped: m.SpansDropped}
		counter = &countingProcessor{
			SpanProcessor: sdktrace.NewBatchSpanProcessor(counted, bsp.opts...),
			exporter:      counted,
			maxQueue:      int64(bsp.maxQueue),
			dropped:       m.SpansDropped,
		}
		opts = append(opts, sdktrace.WithSpanProcessor(counter))
		// The lab counts processes by this line: one that never logs LogSpansFlushed after it
		// was killed, and its loss is unknown.
		logger.Info(LogSpansStart, "endpoint", endpoint)
	}
	tp := sdktrace.NewTracerProvider(opts...)
	prop := propagation.TraceContext{}
	// Global too, so libraries that only know the globals (otelhttp defaults) agree.
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)
	return &Telemetry{
		Service:        service,
		Tracer:         tp.Tracer("github.com/faultline/faultline/system/" + service),
		TracerProvider: tp,
		Propagator:     prop,
		Registry:       reg,
		Metrics:        m,
		sdk:            tp,
		counter:        counter,
		logger:         logger,
	}, nil
}

// Handler serves the registry in the Prometheus text format (for /metrics).
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{Registry: t.Registry})
}

// Log messages the lab reads from a service's log to account for its spans (scenarios/runner
// has its own copy: it may not import this package).
const (
	// LogSpansStart is logged once per process when span export starts.
	LogSpansStart = "telemetry: exporting spans"
	// LogSpansFlushed is the process's last word on its spans, after the final flush:
	// "dropped" is every span it ended and did not get exported, whatever the cause.
	LogSpansFlushed = "telemetry: spans flushed"
)

// Shutdown flushes buffered spans and logs LogSpansFlushed with how many could not be exported.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	err := t.sdk.Shutdown(ctx)
	if t.counter != nil {
		ended := t.counter.queued.Load() + t.counter.droppedN.Load()
		exported := t.counter.exporter.exported.Load()
		failed := t.counter.exporter.failed.Load()
		// Spans still queued when the flush gave up (ctx ended) were neither exported nor
		// counted as failed; ended - exported counts them too.
		t.logger.Info(LogSpansFlushed,
			"ended", ended, "exported", exported, "dropped", ended-exported,
			"queue_full", t.counter.droppedN.Load(), "export_failed", failed,
			"unflushed", ended-exported-failed-t.counter.droppedN.Load())
	}
	if err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}

// SpansDropped is how many spans were dropped (queue full or export failed) so far.
func (t *Telemetry) SpansDropped() int64 {
	if t.counter == nil {
		return 0
	}
	return t.counter.droppedN.Load() + t.counter.exporter.failed.Load()
}

func tracesEndpoint(getenv func(string) string) (string, error) {
	if ep := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); ep != "" {
		return ep, nil
	}
	base := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	if base == "" {
		return "", nil
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return "", fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_ENDPOINT %q: want an http:// or https:// URL", base)
	}
	return strings.TrimRight(base, "/") + "/v1/traces", nil
}

type bspConfig struct {
	maxQueue int
	opts     []sdktrace.BatchSpanProcessorOption
}

func bspOptions(getenv func(string) string) (bspConfig, error) {
	c := bspConfig{maxQueue: DefaultBSPMaxQueue}
	batch := DefaultBSPMaxBatch
	delay, export := DefaultBSPScheduleDelay, DefaultBSPExportTimeout
	ints := []struct {
		env string
		dst *int
	}{{"OTEL_BSP_MAX_QUEUE_SIZE", &c.maxQueue}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &batch}}
	for _, v := range ints {
		if s := getenv(v.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return c, fmt.Errorf("telemetry: %s=%q: want a positive integer", v.env, s)
			}
			*v.dst = n
		}
	}
	// OTEL_BSP_* delays are milliseconds by the spec.
	durs := []struct {
		env string
		dst *time.Duration
	}{{"OTEL_BSP_SCHEDULE_DELAY", &delay}, {"OTEL_BSP_EXPORT_TIMEOUT", &export}}
	for _, v := range durs {
		if s := getenv(v.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return c, fmt.Errorf("telemetry: %s=%q: want a positive number of milliseconds", v.env, s)
			}
			*v.dst = time.Duration(n) * time.Millisecond
		}
	}
	if batch > c.maxQueue {
		batch = c.maxQueue
	}
	c.opts = []sdktrace.BatchSpanProcessorOption{
		sdktrace.WithMaxQueueSize(c.maxQueue),
		sdktrace.WithMaxExportBatchSize(batch),
		sdktrace.WithBatchTimeout(delay),
		sdktrace.WithExportTimeout(export),
	}
	return c, nil
}

// countingProcessor keeps its own count of spans not yet exported and refuses (counting) a span
// when that count reaches the batch processor's queue size, so the batch processor never drops
// a span silently.
type countingProcessor struct {
	sdktrace.SpanProcessor
	exporter *countingExporter
	maxQueue int64
	dropped  prometheus.Counter
	queued   atomic.Int64 // handed to the batch processor
	droppedN atomic.Int64
}

func (p *countingProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	// Compare-and-swap so concurrent OnEnd calls cannot overfill the queue between the check
	// and the count.
	for {
		queued := p.queued.Load()
		if queued-p.exporter.exported.Load()-p.exporter.failed.Load() >= p.maxQueue {
			p.droppedN.Add(1)
			p.dropped.Inc()
			return
		}
		if p.queued.CompareAndSwap(queued, queued+1) {
			break
		}
	}
	p.SpanProcessor.OnEnd(s)
}

type countingExporter struct {
	sdktrace.SpanExporter
	exported atomic.Int64
	failed   atomic.Int64
	dropped  prometheus.Counter
}

// ExportSpans counts every span of a failed export as dropped, a cancelled one too: the
// batch processor does not retry it, so the receiver never gets it.
func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		e.failed.Add(int64(len(spans)))
		if e.dropped != nil {
			e.dropped.Add(float64(len(spans)))
		}
		return err
	}
	e.exported.Add(int64(len(spans)))
	return nil
}
