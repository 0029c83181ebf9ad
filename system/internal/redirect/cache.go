package redirect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// Cache TTLs: positive answers change rarely; negative ones are kept short so a link created
// right after a miss starts resolving quickly.
const (
	DefaultCacheTTL    = 10 * time.Minute
	DefaultNegativeTTL = 30 * time.Second
	// RedisPoolSize bounds the cache client's connections under every profile: with all of
	// them busy a lookup waits for one (the profile's redis_timeout, else go-redis's 30 s), then
	// counts as a miss.
	RedisPoolSize = 64
	keyPrefix     = "r:"
	notFoundValue = "\x00404" // cannot be a URL, so it marks a cached "unknown code"
)

// redisOptions are the cache client's settings. A zero limit leaves go-redis no deadline of
// its own where it has a setting for that (reads, writes: -1) and its default where it has
// none (dial 5 s, pool wait 30 s).
func redisOptions(addr string, lim resilience.Limits) *redis.Options {
	socket := lim.RedisTimeout.D()
	if socket == 0 {
		socket = -1
	}
	return &redis.Options{
		Addr:                  addr,
		DialTimeout:           lim.ConnectTimeout.D(),
		ReadTimeout:           socket,
		WriteTimeout:          socket,
		ContextTimeoutEnabled: true, // the pipeline's per-attempt deadline reaches the socket
		MaxRetries:            -1,
		PoolSize:              RedisPoolSize,
		MinIdleConns:          4,
		PoolTimeout:           lim.RedisTimeout.D(),
		DisableIdentity:       true,
	}
}

// ErrCacheMiss says the cache holds nothing for a code.
var ErrCacheMiss = errors.New("redirect: cache miss")

// Cache is the redirect cache. Get returns the url, or found=false for a cached "unknown
// code", or ErrCacheMiss; any other error means the cache could not answer.
type Cache interface {
	Get(ctx context.Context, code string) (url string, found bool, err error)
	Set(ctx context.Context, code, url string) error
	SetNotFound(ctx context.Context, code string) error
	Ping(ctx context.Context) error
}

// RedisCache is Cache on Redis through the redirect->redis pipeline (timeout, breaker,
// bulkhead), with a CLIENT span per command.
type RedisCache struct {
	client      *redis.Client
	exec        *resilience.Executor[string]
	tracer      trace.Tracer
	ttl, negTTL time.Duration
}

// redisClassifier: a miss (redis.Nil) is an answer, not a failure. Nothing is retried: a
// retry costs more than the miss it would avoid.
var redisClassifier = resilience.Classifier[string]{
	Failure:   func(_ string, err error) bool { return err != nil && !errors.Is(err, redis.Nil) },
	Retryable: func(string, error) bool { return false },
}

// NewRedisCache connects lazily to addr. Client retries are off: a slow or absent Redis must
// turn into a fast miss, never into a slow redirect. The socket timeouts come from the
// profile's limits; without them a read waits as long as the call's context (go-redis's -1).
func NewRedisCache(addr string, policy resilience.EdgePolicy, lim resilience.Limits, t *telemetry.Telemetry, logger *slog.Logger) *RedisCache {
	c := redis.NewClient(redisOptions(addr, lim))
	return &RedisCache{
		client: c,
		exec:   resilience.NewExecutor(EdgeRedis, policy, redisClassifier, t, logger),
		tracer: t.Tracer,
		ttl:    DefaultCacheTTL, negTTL: DefaultNegativeTTL,
	}
}

// Close releases the connections.
func (c *RedisCache) Close() error { return c.client.Close() }

func (c *RedisCache) span(ctx context.Context, op string) (context.Context, trace.Span) {
	return c.tracer.Start(ctx, "redis "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String(telemetry.AttrPeerService, "redis"),
			attribute.String(telemetry.AttrEdge, EdgeRedis),
			attribute.String(telemetry.AttrDBSystem, "redis"),
			attribute.String(telemetry.AttrDBOperation, op),
		))
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Get implements Cache.
func (c *RedisCache) Get(ctx context.Context, code string) (string, bool, error) {
	ctx, span := c.span(ctx, "GET")
	v, err := c.exec.Get(ctx, func(ctx context.Context) (string, error) {
		return c.client.Get(ctx, keyPrefix+code).Result()
	}, nil)
	switch {
	case errors.Is(err, redis.Nil):
		span.SetAttributes(attribute.Bool(telemetry.AttrCacheHit, false))
		endSpan(span, nil)
		return "", false, ErrCacheMiss
	case err != nil:
		err = fmt.Errorf("redirect: redis get: %w", err)
		endSpan(span, err)
		return "", false, err
	}
	span.SetAttributes(attribute.Bool(telemetry.AttrCacheHit, true))
	endSpan(span, nil)
	if v == notFoundValue {
		return "", false, nil
	}
	return v, true, nil
}

// Set implements Cache.
func (c *RedisCache) Set(ctx context.Context, code, url string) error {
	return c.set(ctx, code, url, c.ttl)
}

// SetNotFound implements Cache.
func (c *RedisCache) SetNotFound(ctx context.Context, code string) error {
	return c.set(ctx, code, notFoundValue, c.negTTL)
}

func (c *RedisCache) set(ctx context.Context, code, v string, ttl time.Duration) error {
	ctx, span := c.span(ctx, "SET")
	_, err := c.exec.Get(ctx, func(ctx context.Context) (string, error) {
		return c.client.Set(ctx, keyPrefix+code, v, ttl).Result()
	}, nil)
	if err != nil {
		err = fmt.Errorf("redirect: redis set: %w", err)
	}
	endSpan(span, err)
	return err
}

// Ping implements Cache. It bypasses the pipeline: readiness probes must not move the breaker.
func (c *RedisCache) Ping(ctx context.Context) error {
	ctx, span := c.span(ctx, "PING")
	err := c.client.Ping(ctx).Err()
	if err != nil {
		err = fmt.Errorf("redirect: redis ping: %w", err)
	}
	endSpan(span, err)
	return err
}
