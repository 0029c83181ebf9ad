package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// Consumer defaults.
//
// A delivery lost on the way (a partition between the consumer and NATS drops the bytes in
// flight) is redelivered only when its AckWait runs out, and a pull request lost the same way
// is renewed only when two heartbeats are missed: with NATS's defaults (30 s, 15 s) a
// consumer partitioned for 2 s counted nothing for ~30 s after the heal (found by `faultline
// explore`, blackhole@analytics->nats). Both are seconds here; a handler that takes longer
// than AckWait keeps its message with InProgress, so a slow store is not a redelivery storm.
// The connection itself is kept (connect.go: a slow link is not a dead one).
const (
	DefaultNakDelay       = 500 * time.Millisecond // a failing store gets room to recover before redelivery
	DefaultHandlerTimeout = 10 * time.Second
	AckWait               = 4 * time.Second
	PullExpiry            = 4 * time.Second // heartbeats every 2 s; two missed renew the pull
	maxAckPending         = 1024
)

// Handler processes one event. Return nil (ack, processed), ErrDuplicate (ack, duplicate) or
// another error (nak with delay: redelivered later).
type Handler func(ctx context.Context, ev Event) error

// ConsumeOption tunes Consume.
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	t        *telemetry.Telemetry
	logger   *slog.Logger
	nakDelay time.Duration
}

// WithTelemetry gives the consumer spans and metrics.
func WithTelemetry(t *telemetry.Telemetry) ConsumeOption { return func(c *consumeConfig) { c.t = t } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) ConsumeOption { return func(c *consumeConfig) { c.logger = l } }

// WithNakDelay sets the redelivery delay after a handler error.
func WithNakDelay(d time.Duration) ConsumeOption { return func(c *consumeConfig) { c.nakDelay = d } }

// Consume runs a durable pull consumer named durable on stream, acking explicitly, until stop
// is called or ctx is done. It keeps trying to (re)create the consumer while NATS is away.
// stop drains in-flight messages and waits for the consumer's goroutine.
func Consume(ctx context.Context, js jetstream.JetStream, stream, durable string, handler Handler, opts ...ConsumeOption) (stop func(), err error) {
	if js == nil || stream == "" || durable == "" || handler == nil {
		return nil, errors.New("events: consume: js, stream, durable and handler are required")
	}
	var streamCfg *jetstream.StreamConfig
	for _, c := range StreamConfigs() {
		if c.Name == stream {
			streamCfg = &c
		}
	}
	if streamCfg == nil {
		return nil, fmt.Errorf("events: consume: unknown stream %q", stream)
	}
	cfg := consumeConfig{logger: slog.New(slog.DiscardHandler), nakDelay: DefaultNakDelay}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.logger = cfg.logger.With("stream", stream, "durable", durable)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runConsumer(cctx, js, *streamCfg, durable, handler, cfg)
	}()
	return func() { cancel(); <-done }, nil
}

func runConsumer(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig, durable string, handler Handler, cfg consumeConfig) {
	backoff := 100 * time.Millisecond
	for attempt := 0; ctx.Err() == nil; attempt++ {
		cc, err := startConsumer(ctx, js, sc, durable, handler, cfg)
		if err != nil {
			if attempt == 0 || attempt%20 == 0 {
				cfg.logger.Warn("events: consumer not started, retrying", "error", err, "attempt", attempt+1)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		cfg.logger.Info("events: consumer started")
		backoff = 100 * time.Millisecond
		select {
		case <-ctx.Done():
			if js.Conn().Status() != nats.CONNECTED {
				cc.Stop() // nothing in flight can be acked anyway; do not wait for a drain
				return
			}
			cc.Drain()
			select {
			case <-cc.Closed():
			case <-time.After(5 * time.Second):
				cc.Stop()
			}
			return
		case <-cc.Closed():
			cfg.logger.Warn("events: consumer closed, restarting")
		}
	}
}

func startConsumer(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig, durable string, handler Handler, cfg consumeConfig) (jetstream.ConsumeContext, error) {
	sctx, cancel := context.WithTimeout(ctx, AckTimeout)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(sctx, sc); err != nil {
		return nil, fmt.Errorf("events: stream %s: %w", sc.Name, err)
	}
	cons, err := js.CreateOrUpdateConsumer(sctx, sc.Name, jetstream.ConsumerConfig{
		Durable:       durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       AckWait,
		MaxAckPending: maxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("events: consumer %s: %w", durable, err)
	}
	var (
		tracer trace.Tracer                  = noop.NewTracerProvider().Tracer("")
		prop   propagation.TextMapPropagator = propagation.TraceContext{}
	)
	if cfg.t != nil {
		tracer, prop = cfg.t.Tracer, cfg.t.Propagator
	}
	base := context.WithoutCancel(ctx) // in-flight messages finish during a drain
	return cons.Consume(func(msg jetstream.Msg) {
		handle(base, msg, handler, tracer, prop, cfg)
	}, jetstream.PullMaxMessages(256), jetstream.PullExpiry(PullExpiry))
}

func handle(base context.Context, msg jetstream.Msg, handler Handler, tracer trace.Tracer, prop propagation.TextMapPropagator, cfg consumeConfig) {
	subject := msg.Subject()
	count := func(result string) {
		if cfg.t != nil {
			cfg.t.Metrics.EventsConsumed.WithLabelValues(subject, result).Inc()
		}
	}
	ctx := Extract(base, prop, msg.Headers())
	ctx, span := tracer.Start(ctx, "process "+subject, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String(telemetry.AttrMessagingSystem, "nats"),
			attribute.String(telemetry.AttrMessagingDest, subject)))
	defer span.End()
	ev, err := Decode(msg.Data())
	if err != nil {
		// Redelivering cannot fix a malformed message: terminate it, loudly.
		cfg.logger.Error("events: malformed message terminated", "subject", subject, "error", err)
		span.SetStatus(codes.Error, err.Error())
		count(telemetry.ConsumedError)
		_ = msg.TermWithReason("malformed")
		return
	}
	span.SetAttributes(attribute.String(telemetry.AttrMessagingMsgID, ev.ID))
	hctx, cancel := context.WithTimeout(ctx, DefaultHandlerTimeout)
	err = withProgress(msg, AckWait/2, func() error { return handler(hctx, ev) })
	cancel()
	switch {
	case err == nil:
		count(telemetry.ConsumedProcessed)
		_ = msg.Ack()
	case errors.Is(err, ErrDuplicate):
		count(telemetry.ConsumedDuplicate)
		span.SetAttributes(attribute.Bool("messaging.duplicate", true))
		_ = msg.Ack()
	default:
		count(telemetry.ConsumedError)
		span.RecordError(err)
		span.SetStatus(codes.Error, "handler failed")
		cfg.logger.Warn("events: handler failed, will redeliver", "id", ev.ID, "error", err, "delay", cfg.nakDelay)
		_ = msg.NakWithDelay(cfg.nakDelay)
	}
}

// withProgress runs fn, telling NATS every interval that msg is still being worked on, so a
// handler slower than AckWait (a store under a latency fault) does not get its message
// redelivered meanwhile. A timer, not a goroutine: most handlers end long before it fires.
func withProgress(msg interface{ InProgress() error }, interval time.Duration, fn func() error) error {
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	t = time.AfterFunc(interval, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		_ = msg.InProgress()
		t.Reset(interval)
	})
	mu.Unlock()
	err := fn()
	mu.Lock()
	stopped = true
	t.Stop()
	mu.Unlock()
	return err
}
