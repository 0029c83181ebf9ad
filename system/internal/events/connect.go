package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Reconnect settings: keep trying forever (a NATS outage is a fault to survive, not a reason
// to exit) and buffer what is published meanwhile.
const (
	ReconnectWait    = 250 * time.Millisecond
	ReconnectBufSize = 8 << 20
	AsyncMaxPending  = 4096
	AckTimeout       = 2 * time.Second
)

// Pings stay at nats.go's defaults (2 min, 2 outstanding): a consumer recovers from a
// partition through AckWait and the pull heartbeats (consumer.go), on the same connection once
// bytes flow again (measured 2026-12-03 with and without 2 s x 2 pings: caught up 0.9-1.1 s
// after the load either way). Short pings would add a risk without a gain: a link slower than
// the ping budget (click-ack-lost holds NATS 3 s) would be declared dead and redialled.

// Connect connects to NATS at url as client name. It returns at once even when the server is
// down (the client keeps connecting in the background); state changes are logged.
func Connect(ctx context.Context, url, name string, logger *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(ReconnectWait),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(ReconnectBufSize),
		nats.RetryOnFailedConnect(true),
		nats.Timeout(2*time.Second),
		nats.ConnectHandler(func(c *nats.Conn) { logger.Info("events: nats connected", "url", c.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close, reported by the closed handler
				logger.Warn("events: nats disconnected", "error", err.Error())
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("events: nats reconnected", "url", c.ConnectedUrlRedacted()) }),
		nats.ClosedHandler(func(*nats.Conn) { logger.Info("events: nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			logger.Warn("events: nats error", "error", errString(err))
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("events: connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(AsyncMaxPending),
		jetstream.WithPublishAsyncTimeout(AckTimeout),
		jetstream.WithDefaultTimeout(AckTimeout))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("events: jetstream: %w", err)
	}
	return nc, js, nil
}

// Ready reports whether nc is connected (for /readyz).
func Ready(nc *nats.Conn) func(context.Context) error {
	return func(context.Context) error {
		if nc == nil {
			return fmt.Errorf("events: no nats connection")
		}
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("events: nats %s", s)
		}
		return nil
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
