// Package redirect resolves short codes to URLs (Redis cache, link on a miss) and records every redirect as a click event on JetStream without ever waiting for it.
package redirect

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/service"
)

// Tunables of the running service.
const (
	// StaleEntries bounds the stale_cache fallback LRU.
	StaleEntries = 4096
	// FlushTimeout bounds the click flush on shutdown, after the HTTP drain.
	FlushTimeout = 5 * time.Second
	// streamRetry is how often stream creation is retried while NATS is unreachable.
	streamRetry = time.Second
)

// Run runs redirect until ctx ends (SIGTERM): then it drains HTTP, flushes buffered clicks
// (bounded by FlushTimeout) and flushes spans.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := service.New("redirect", getenv, stderr)
	redisAddr := config.String(s.Flags, "redis-addr", "REDIS_ADDR", "", "Redis host:port (the cache)")
	linkURL := config.String(s.Flags, "link-url", "LINK_URL", "", "base URL of link")
	natsURL := config.String(s.Flags, "nats-url", "NATS_URL", "", "NATS URL for click events")
	clickBuffer := config.Int(s.Flags, "click-buffer", "CLICK_BUFFER", DefaultClickBuffer, "click events buffered before they are dropped")
	if err := s.Parse(args); err != nil {
		return err
	}
	if err := checkFlags(*redisAddr, *linkURL, *natsURL, *clickBuffer); err != nil {
		return config.Usage(err)
	}
	return s.Run(ctx, func(ctx context.Context, env *service.Env) error {
		return serve(ctx, env, *redisAddr, *linkURL, *natsURL, *clickBuffer)
	})
}

func serve(ctx context.Context, env *service.Env, redisAddr, linkURL, natsURL string, clickBuffer int) error {
	logger, tel := env.Logger, env.Tel
	cache := NewRedisCache(redisAddr, env.Profile.Edge(EdgeRedis), env.Profile.Limits, tel, logger)
	defer cache.Close()
	linkPolicy := env.Profile.Edge(EdgeLink)
	links := NewLinkClient(linkURL, httpx.NewClient(tel, EdgeLink, "link", env.Profile.Limits.ConnectTimeout.D()), resilience.NewHTTP(EdgeLink, linkPolicy, tel, logger))
	var stale *staleCache
	if linkPolicy.Fallback == resilience.FallbackStaleCache {
		stale = newStaleCache(StaleEntries)
	}

	nc, js, err := events.Connect(ctx, natsURL, "redirect", logger)
	if err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	defer nc.Close()
	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ensureStreams(bg, js, logger) }()
	defer func() { stopBG(); wg.Wait() }()

	pub := events.NewPublisher(js, tel, EdgeNATS, env.Profile.Events.Dedup, logger)
	clicks := NewClicks(func(ctx context.Context, c Click) error {
		_, err := pub.TryPublish(ctx, events.Event{ID: c.ID, Type: events.TypeClick, Code: c.Code, URL: c.URL, At: c.At})
		return err
	}, ClickOptions{Size: clickBuffer, Hooks: ClickHooks{
		Dropped: func(cause string) { pub.Drop(events.SubjectClick, cause) },
	}})
	res := &Resolver{Cache: cache, Links: links, Stale: stale, Metrics: tel.Metrics, Logger: logger}
	ready := map[string]func(context.Context) error{"redis": cache.Ping, "link": links.Ping, "nats": events.Ready(nc)}
	serveErr := env.Serve(ctx, NewServer(logger, tel, res, clicks, ready), "click_buffer", clickBuffer)

	// HTTP is drained (or never started): no more clicks can arrive, so flush what is buffered.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FlushTimeout)
	defer cancel()
	pending := clicks.Len()
	if err := clicks.Close(fctx); err != nil {
		logger.Warn("redirect: click flush incomplete", "err", err)
	}
	s := clicks.Stats()
	logger.Info("redirect: stopped", "clicks_pending_at_stop", pending, "acked_total", s.AckedTotal,
		"published_total", s.PublishedTotal, "dropped", s.Dropped, "err", serveErr)
	return serveErr
}

func checkFlags(redisAddr, linkURL, natsURL string, clickBuffer int) error {
	if _, _, err := net.SplitHostPort(redisAddr); err != nil {
		return fmt.Errorf("redirect: --redis-addr (REDIS_ADDR) %q: want host:port", redisAddr)
	}
	if linkURL == "" {
		return fmt.Errorf("redirect: --link-url (LINK_URL) is required")
	}
	if natsURL == "" {
		return fmt.Errorf("redirect: --nats-url (NATS_URL) is required")
	}
	if clickBuffer < 1 {
		return fmt.Errorf("redirect: --click-buffer (CLICK_BUFFER) %d: want a positive number", clickBuffer)
	}
	return nil
}

// ensureStreams creates the streams, retrying while NATS is unreachable, until ctx ends.
func ensureStreams(ctx context.Context, js jetstream.JetStream, logger *slog.Logger) {
	for {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := events.EnsureStreams(sctx, js)
		cancel()
		if err == nil {
			return
		}
		logger.Warn("redirect: streams not ready, retrying", "err", err)
		t := time.NewTimer(streamRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
