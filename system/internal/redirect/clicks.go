package redirect

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Causes a click can be dropped for (label `cause` of events_dropped_total and keys of
// /clicks "dropped").
const (
	DropBufferFull   = "buffer_full"
	DropPublishError = "publish_error"
)

// Click is one redirect served, to be published as a click event.
type Click struct {
	ID   string
	Code string
	URL  string
	At   time.Time
	// Trace is the redirect's span, so the publish span joins the request's trace.
	Trace trace.SpanContext
}

// PublishFunc publishes one click and returns nil only once the broker acknowledged it.
type PublishFunc func(ctx context.Context, c Click) error

// ClickStats is the body of GET /clicks: what the data-safety check compares with analytics.
type ClickStats struct {
	Acked          map[string]int64 `json:"acked"`
	AckedTotal     int64            `json:"acked_total"`
	PublishedTotal int64            `json:"published_total"`
	Dropped        map[string]int64 `json:"dropped"`
}

// ClickHooks let the owner count what happens to clicks in its metrics; any may be nil.
type ClickHooks struct {
	Published func()
	Acked     func()
	Dropped   func(cause string)
}

// ClickOptions tune the publisher; zero values take the defaults below.
type ClickOptions struct {
	Size       int           // buffer capacity (CLICK_BUFFER)
	Workers    int           // publisher goroutines
	Attempts   int           // publish attempts per click before it counts as publish_error
	Backoff    time.Duration // wait before the 2nd attempt, doubled after each failure
	AttemptTTL time.Duration // per-attempt timeout
	Hooks      ClickHooks
}

// Defaults for ClickOptions.
const (
	DefaultClickBuffer     = 10000
	DefaultClickWorkers    = 4
	DefaultClickAttempts   = 3
	DefaultClickBackoff    = 50 * time.Millisecond
	DefaultClickAttemptTTL = 2 * time.Second
)

// Clicks is a bounded buffer of clicks drained by a fixed set of publisher goroutines. Enqueue
// never blocks: a full buffer drops the click and counts it, so a slow broker never slows a
// redirect down.
type Clicks struct {
	opts    ClickOptions
	publish PublishFunc
	queue   chan Click
	stop    chan struct{} // closed by Close: workers drain what is left, then exit
	flush   context.Context
	cancel  context.CancelFunc // cancels in-flight publishes when the flush deadline passes
	wg      sync.WaitGroup

	// gate lets many Enqueue calls run at once (read side) while Close (write side) waits
	// for them, so the hot path never serialises on the counters' mutex.
	gate   sync.RWMutex
	closed bool

	mu        sync.Mutex // guards the counters
	acked     map[string]int64
	ackedN    int64
	published int64
	dropped   map[string]int64
}

// NewClicks starts the publisher goroutines. The caller owns them: call Close to flush and
// wait for them.
func NewClicks(publish PublishFunc, opts ClickOptions) *Clicks {
	if opts.Size < 1 {
		opts.Size = DefaultClickBuffer
	}
	if opts.Workers < 1 {
		opts.Workers = DefaultClickWorkers
	}
	if opts.Attempts < 1 {
		opts.Attempts = DefaultClickAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultClickBackoff
	}
	if opts.AttemptTTL <= 0 {
		opts.AttemptTTL = DefaultClickAttemptTTL
	}
	flush, cancel := context.WithCancel(context.Background())
	c := &Clicks{
		opts:    opts,
		publish: publish,
		queue:   make(chan Click, opts.Size),
		stop:    make(chan struct{}),
		flush:   flush,
		cancel:  cancel,
		acked:   make(map[string]int64),
		dropped: map[string]int64{DropBufferFull: 0, DropPublishError: 0},
	}
	for range opts.Workers {
		c.wg.Add(1)
		go c.work()
	}
	return c
}

// Enqueue hands a click to the publishers without waiting. It returns false when the click
// was dropped (buffer full or closed).
func (c *Clicks) Enqueue(ctx context.Context, code, url string) bool {
	id := clickIDFrom(ctx)
	if id == "" {
		id = NewEventID()
	}
	ck := Click{ID: id, Code: code, URL: url, At: time.Now().UTC(), Trace: trace.SpanContextFromContext(ctx)}
	c.gate.RLock()
	sent := false
	if !c.closed {
		select {
		case c.queue <- ck:
			sent = true
		default:
		}
	}
	c.gate.RUnlock()
	if !sent {
		c.mu.Lock()
		c.dropLocked(DropBufferFull)
		c.mu.Unlock()
	}
	return sent
}

// Close stops accepting clicks and publishes what is buffered until ctx ends; what is still
// unpublished then counts as publish_error. It waits for every publisher goroutine.
func (c *Clicks) Close(ctx context.Context) error {
	c.gate.Lock() // waits for in-flight Enqueue calls
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	c.gate.Unlock()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		c.cancel()
		return nil
	case <-ctx.Done():
		c.cancel() // in-flight and remaining publishes fail fast and are counted
		<-done
		return fmt.Errorf("redirect: flush clicks: %w", ctx.Err())
	}
}

// Len is the number of clicks waiting in the buffer.
func (c *Clicks) Len() int { return len(c.queue) }

// Stats returns a copy of the counters.
func (c *Clicks) Stats() ClickStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ClickStats{
		Acked:          make(map[string]int64, len(c.acked)),
		AckedTotal:     c.ackedN,
		PublishedTotal: c.published,
		Dropped:        make(map[string]int64, len(c.dropped)),
	}
	for k, v := range c.acked {
		s.Acked[k] = v
	}
	for k, v := range c.dropped {
		s.Dropped[k] = v
	}
	return s
}

func (c *Clicks) work() {
	defer c.wg.Done()
	for {
		select {
		case ck := <-c.queue:
			c.deliver(ck)
		case <-c.stop:
			for { // drain: Close holds no more senders, so the queue only shrinks
				select {
				case ck := <-c.queue:
					c.deliver(ck)
				default:
					return
				}
			}
		}
	}
}

// deliver publishes one click with bounded retries. Retrying is safe: the event id is the
// JetStream message id, so the stream de-duplicates a publish whose ack was lost.
func (c *Clicks) deliver(ck Click) {
	c.mu.Lock()
	c.published++
	c.mu.Unlock()
	if h := c.opts.Hooks.Published; h != nil {
		h()
	}
	backoff := c.opts.Backoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(trace.ContextWithSpanContext(c.flush, ck.Trace), c.opts.AttemptTTL)
		err := c.publish(ctx, ck)
		cancel()
		if err == nil {
			c.mu.Lock()
			c.acked[ck.Code]++
			c.ackedN++
			c.mu.Unlock()
			if h := c.opts.Hooks.Acked; h != nil {
				h()
			}
			return
		}
		if attempt >= c.opts.Attempts || c.flush.Err() != nil {
			c.mu.Lock()
			c.dropLocked(DropPublishError)
			c.mu.Unlock()
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-c.flush.Done():
			t.Stop()
		}
		backoff *= 2
	}
}

func (c *Clicks) dropLocked(cause string) {
	c.dropped[cause]++
	if h := c.opts.Hooks.Dropped; h != nil {
		h(cause)
	}
}

type clickIDKey struct{}

// withClickID makes the click recorded under ctx carry id as its event id ("" = a new one).
func withClickID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, clickIDKey{}, id)
}

func clickIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(clickIDKey{}).(string)
	return id
}

// NewEventID returns a random RFC 4122 version 4 id.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:16])
	return string(out[:])
}
