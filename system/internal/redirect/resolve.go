package redirect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// Edge names of redirect's outbound calls (docs/contracts.md).
const (
	EdgeRedis = "redirect->redis"
	EdgeLink  = "redirect->link"
	EdgeNATS  = "redirect->nats"
)

// Errors the resolver returns; handlers map them to 404 and 503.
var (
	ErrNotFound    = errors.New("redirect: unknown code")
	ErrUnavailable = errors.New("redirect: link unavailable")
)

// LinkLookup asks link for the url of a code. It returns an error wrapping ErrNotFound when
// link answered 404, any other error when link could not answer.
type LinkLookup interface {
	Lookup(ctx context.Context, code string) (string, error)
}

// Resolution is where a redirect's target came from.
type Resolution struct {
	URL   string
	Hit   bool // served from Redis
	Stale bool // served from the in-process stale_cache fallback
}

// staleFallbackAttrs describe a stale-cache answer on the span event, built once.
var staleFallbackAttrs = []attribute.KeyValue{
	attribute.String(telemetry.AttrEdge, EdgeLink), attribute.String(telemetry.AttrFallback, telemetry.FallbackStaleCache),
}

// Resolver turns a code into a url: Redis first, link on a miss.
type Resolver struct {
	Cache   Cache
	Links   LinkLookup
	Stale   *staleCache // nil when the profile has no stale_cache fallback
	Metrics *telemetry.Metrics
	Logger  *slog.Logger
}

// Resolve implements the redirect lookup. A Redis failure is a miss (counted), never an error.
func (r *Resolver) Resolve(ctx context.Context, code string) (Resolution, error) {
	span := trace.SpanFromContext(ctx)
	url, found, err := r.Cache.Get(ctx, code)
	switch {
	case err == nil && found:
		r.countCache(telemetry.CacheHit)
		span.SetAttributes(attribute.Bool(telemetry.AttrCacheHit, true))
		r.Stale.Put(code, url)
		return Resolution{URL: url, Hit: true}, nil
	case err == nil: // cached "unknown code"
		r.countCache(telemetry.CacheHit)
		span.SetAttributes(attribute.Bool(telemetry.AttrCacheHit, true))
		return Resolution{}, fmt.Errorf("%w: %s (cached)", ErrNotFound, code)
	case errors.Is(err, ErrCacheMiss):
		r.countCache(telemetry.CacheMiss)
	default:
		r.countCache(telemetry.CacheError)
		r.log().Debug("redirect: cache unavailable, treating as miss", "err", err)
	}
	span.SetAttributes(attribute.Bool(telemetry.AttrCacheHit, false))
	cacheUp := err == nil || errors.Is(err, ErrCacheMiss)

	url, err = r.Links.Lookup(ctx, code)
	switch {
	case err == nil:
		r.Stale.Put(code, url)
		if cacheUp {
			// Filling the cache is best effort: the redirect does not wait on a second failure.
			if err := r.Cache.Set(ctx, code, url); err != nil {
				r.log().Debug("redirect: cache fill failed", "err", err)
			}
		}
		return Resolution{URL: url}, nil
	case errors.Is(err, ErrNotFound):
		r.Stale.Delete(code)
		if cacheUp {
			if err := r.Cache.SetNotFound(ctx, code); err != nil {
				r.log().Debug("redirect: negative cache fill failed", "err", err)
			}
		}
		return Resolution{}, err
	}
	if url, ok := r.Stale.Get(code); ok {
		span.SetAttributes(attribute.String(telemetry.AttrFallback, telemetry.FallbackStaleCache))
		// The pipeline's own span has ended: the event names the edge whose failure this answers.
		span.AddEvent(telemetry.EventFallback, trace.WithAttributes(staleFallbackAttrs...))
		if r.Metrics != nil {
			r.Metrics.Fallbacks.WithLabelValues(EdgeLink, telemetry.FallbackStaleCache).Inc()
		}
		return Resolution{URL: url, Stale: true}, nil
	}
	return Resolution{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (r *Resolver) countCache(result string) {
	if r.Metrics != nil {
		r.Metrics.CacheRequests.WithLabelValues(result).Inc()
	}
}

func (r *Resolver) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}
