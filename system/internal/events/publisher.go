package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// Drop causes (label cause of events_dropped_total).
const (
	CauseBufferFull   = "buffer_full"
	CausePublishError = "publish_error"
	CauseAckTimeout   = "ack_timeout"
	CauseShutdown     = "shutdown"
)

// Publisher publishes events to JetStream and waits for the ack.
type Publisher struct {
	js     jetstream.JetStream
	t      *telemetry.Telemetry
	edge   string // e.g. "link->nats"
	dedup  bool
	logger *slog.Logger
	// ensured is set once the streams exist, so the first publish (possibly long after a NATS
	// outage at start) creates them and later ones skip the round trip.
	ensured atomic.Bool
}

// Ensure creates the streams once (idempotent); publishing calls it first.
func (p *Publisher) Ensure(ctx context.Context) error {
	if p.ensured.Load() {
		return nil
	}
	if err := EnsureStreams(ctx, p.js); err != nil {
		return err
	}
	p.ensured.Store(true)
	return nil
}

// NewPublisher returns a publisher on edge ("link->nats"). With dedup the event id is sent as
// Nats-Msg-Id so JetStream drops a republished event within its duplicate window.
func NewPublisher(js jetstream.JetStream, t *telemetry.Telemetry, edge string, dedup bool, logger *slog.Logger) *Publisher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{js: js, t: t, edge: edge, dedup: dedup, logger: logger}
}

// Publish sends ev and waits (at most AckTimeout) for JetStream's ack. A failure is counted
// as dropped with its cause: use it when the caller will not retry.
func (p *Publisher) Publish(ctx context.Context, ev Event) (*jetstream.PubAck, error) {
	ack, err := p.TryPublish(ctx, ev)
	if err != nil {
		subject, _ := SubjectFor(ev.Type)
		p.Drop(subject, DropCause(err))
	}
	return ack, err
}

// TryPublish is Publish without counting a failure as dropped: for callers that keep the
// event and retry (the outbox relay).
func (p *Publisher) TryPublish(ctx context.Context, ev Event) (*jetstream.PubAck, error) {
	if err := p.Ensure(ctx); err != nil {
		return nil, err
	}
	msg, ctx, span, err := p.message(ctx, ev)
	if err != nil {
		return nil, err
	}
	defer span.End()
	m := p.t.Metrics
	m.EventsPublished.WithLabelValues(msg.Subject).Inc()
	actx, cancel := context.WithTimeout(ctx, AckTimeout)
	defer cancel()
	ack, err := p.js.PublishMsg(actx, msg)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return nil, fmt.Errorf("events: publish %s: %w", ev.ID, err)
	}
	m.EventsAcked.WithLabelValues(msg.Subject).Inc()
	span.SetAttributes(attribute.Bool("messaging.duplicate", ack.Duplicate))
	return ack, nil
}

// Drop counts an event given up on.
func (p *Publisher) Drop(subject, cause string) {
	p.t.Metrics.EventsDropped.WithLabelValues(subject, cause).Inc()
}

// DropCause classifies a publish error for events_dropped_total.
func DropCause(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return CauseAckTimeout
	}
	return CausePublishError
}

// message builds the NATS message of ev inside a CLIENT span towards nats, whose context goes
// into the traceparent header.
func (p *Publisher) message(ctx context.Context, ev Event) (*nats.Msg, context.Context, trace.Span, error) {
	subject, err := SubjectFor(ev.Type)
	if err != nil {
		return nil, ctx, nil, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, ctx, nil, fmt.Errorf("events: encode %s: %w", ev.ID, err)
	}
	ctx, span := p.t.Tracer.Start(ctx, "publish "+subject, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String(telemetry.AttrPeerService, "nats"),
			attribute.String(telemetry.AttrEdge, p.edge),
			attribute.String(telemetry.AttrMessagingSystem, "nats"),
			attribute.String(telemetry.AttrMessagingDest, subject),
			attribute.String(telemetry.AttrMessagingMsgID, ev.ID)))
	msg := nats.NewMsg(subject)
	msg.Data = body
	if p.dedup {
		msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
	}
	Inject(ctx, p.t.Propagator, msg.Header)
	return msg, ctx, span, nil
}

// PublishAll publishes evs asynchronously and waits for every ack (bounded by AckTimeout).
// It returns, per event, nil when acked or the error; nothing is counted as dropped.
func (p *Publisher) PublishAll(ctx context.Context, evs []Event, parents []context.Context) []error {
	errs := make([]error, len(evs))
	if err := p.Ensure(ctx); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	type pending struct {
		i       int
		subject string
		fut     jetstream.PubAckFuture
		span    trace.Span
	}
	var waits []pending
	m := p.t.Metrics
	for i, ev := range evs {
		pctx := ctx
		if i < len(parents) && parents[i] != nil {
			pctx = parents[i]
		}
		msg, _, span, err := p.message(pctx, ev)
		if err != nil {
			errs[i] = err
			continue
		}
		m.EventsPublished.WithLabelValues(msg.Subject).Inc()
		fut, err := p.js.PublishMsgAsync(msg)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "publish failed")
			span.End()
			errs[i] = fmt.Errorf("events: publish %s: %w", ev.ID, err)
			continue
		}
		waits = append(waits, pending{i, msg.Subject, fut, span})
	}
	for _, w := range waits {
		select {
		case ack := <-w.fut.Ok():
			m.EventsAcked.WithLabelValues(w.subject).Inc()
			w.span.SetAttributes(attribute.Bool("messaging.duplicate", ack.Duplicate))
		case err := <-w.fut.Err():
			errs[w.i] = fmt.Errorf("events: publish %s: %w", evs[w.i].ID, err)
			w.span.RecordError(err)
			w.span.SetStatus(codes.Error, "publish failed")
		case <-ctx.Done():
			errs[w.i] = fmt.Errorf("events: publish %s: %w", evs[w.i].ID, ctx.Err())
		}
		w.span.End()
	}
	return errs
}
