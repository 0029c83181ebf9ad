package link

import (
	"context"
	"log/slog"
	"time"

	"github.com/faultline/faultline/system/internal/events"
)

// directBuffer bounds events waiting to be published when the outbox is off.
const directBuffer = 4096

// directPublisher publishes after commit, best effort (profile events.outbox=false): what it
// cannot publish is counted as dropped, never retried. It exists to show what the outbox buys.
type directPublisher struct {
	pub    *events.Publisher
	ch     chan item
	logger *slog.Logger
}

type item struct {
	ctx context.Context
	ev  events.Event
}

func newDirectPublisher(pub *events.Publisher, logger *slog.Logger) *directPublisher {
	return &directPublisher{pub: pub, ch: make(chan item, directBuffer), logger: logger}
}

// Enqueue hands ev over without blocking the request; a full buffer drops it (counted).
func (d *directPublisher) Enqueue(ctx context.Context, ev events.Event) {
	select {
	case d.ch <- item{context.WithoutCancel(ctx), ev}:
	default:
		d.pub.Drop(events.SubjectLinkCreated, events.CauseBufferFull)
	}
}

// Run publishes until ctx is done, then flushes for at most 2 s and counts the rest dropped.
func (d *directPublisher) Run(ctx context.Context) {
	for {
		select {
		case it := <-d.ch:
			_, _ = d.pub.Publish(it.ctx, it.ev)
		case <-ctx.Done():
			deadline := time.After(2 * time.Second)
			for {
				select {
				case it := <-d.ch:
					_, _ = d.pub.Publish(it.ctx, it.ev)
				case <-deadline:
					for range len(d.ch) {
						<-d.ch
						d.pub.Drop(events.SubjectLinkCreated, events.CauseShutdown)
					}
					return
				default:
					return
				}
			}
		}
	}
}
