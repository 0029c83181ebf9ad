// Package events carries domain events over NATS JetStream: event types, streams, publishing with acks, durable consumers and the outbox relay.
package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
)

// Event types, subjects, streams and durable consumer names (docs/contracts.md).
const (
	TypeLinkCreated = "link.created"
	TypeClick       = "click"

	SubjectLinkCreated = "links.created"
	SubjectClick       = "clicks.recorded"

	StreamLinks  = "LINKS"
	StreamClicks = "CLICKS"

	ConsumerAnalyticsLinks  = "analytics-links"
	ConsumerAnalyticsClicks = "analytics-clicks"
	ConsumerBillingLinks    = "billing-links"

	// DuplicateWindow is how long JetStream remembers message ids for de-dup.
	DuplicateWindow = 2 * time.Minute

	// HeaderTraceparent is the W3C trace context header, carried on every message.
	HeaderTraceparent = "traceparent"
)

// Event is the JSON body of every message.
type Event struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Code    string    `json:"code"`
	Account string    `json:"account,omitempty"`
	URL     string    `json:"url,omitempty"`
	At      time.Time `json:"at"`
}

// ErrBadEvent marks a message that can never be processed (not JSON, missing fields).
var ErrBadEvent = errors.New("events: bad event")

// ErrDuplicate is returned by a consumer handler for an event it already processed: the
// message is acked and counted as a duplicate.
var ErrDuplicate = errors.New("events: duplicate event")

// NewID returns a random 128-bit event id in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SubjectFor is the subject events of type typ are published on.
func SubjectFor(typ string) (string, error) {
	switch typ {
	case TypeLinkCreated:
		return SubjectLinkCreated, nil
	case TypeClick:
		return SubjectClick, nil
	}
	return "", fmt.Errorf("%w: unknown type %q", ErrBadEvent, typ)
}

// Decode parses and checks a message body.
func Decode(data []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if ev.ID == "" || ev.Type == "" || ev.Code == "" {
		return ev, fmt.Errorf("%w: id, type and code are required", ErrBadEvent)
	}
	return ev, nil
}

// StreamConfigs are the streams this system uses.
func StreamConfigs() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{Name: StreamLinks, Subjects: []string{SubjectLinkCreated}, Storage: jetstream.FileStorage, Duplicates: DuplicateWindow, MaxAge: 7 * 24 * time.Hour},
		{Name: StreamClicks, Subjects: []string{SubjectClick}, Storage: jetstream.FileStorage, Duplicates: DuplicateWindow, MaxAge: 7 * 24 * time.Hour},
	}
}

// EnsureStreams creates or updates every stream (idempotent).
func EnsureStreams(ctx context.Context, js jetstream.JetStream) error {
	for _, cfg := range StreamConfigs() {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("events: stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// headerCarrier adapts nats.Header for OTel propagation without canonicalising keys, so the
// header is literally "traceparent" as W3C writes it.
type headerCarrier nats.Header

func (h headerCarrier) Get(k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}
func (h headerCarrier) Set(k, v string) { h[k] = []string{v} }
func (h headerCarrier) Keys() []string {
	ks := make([]string, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	return ks
}

var _ propagation.TextMapCarrier = headerCarrier{}

// Inject writes ctx's trace context into h.
func Inject(ctx context.Context, p propagation.TextMapPropagator, h nats.Header) {
	p.Inject(ctx, headerCarrier(h))
}

// Extract returns ctx with the trace context found in h.
func Extract(ctx context.Context, p propagation.TextMapPropagator, h nats.Header) context.Context {
	return p.Extract(ctx, headerCarrier(h))
}

// Traceparent returns ctx's W3C traceparent value ("" without a valid span).
func Traceparent(ctx context.Context, p propagation.TextMapPropagator) string {
	h := nats.Header{}
	p.Inject(ctx, headerCarrier(h))
	return h.Get(HeaderTraceparent)
}
