package redirect

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/faultline/faultline/system/internal/httpx"
)

// RetryAfter is what a 503 tells the client: about one breaker delay.
const RetryAfter = "1"

// clickRecorder is the part of Clicks the handlers use.
type clickRecorder interface {
	Enqueue(ctx context.Context, code, url string) bool
	Stats() ClickStats
}

// codeResolver is the part of Resolver the handlers use.
type codeResolver interface {
	Resolve(ctx context.Context, code string) (Resolution, error)
}

func handleRedirect(logger *slog.Logger, res codeResolver, clicks clickRecorder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, ok := httpx.CodeParam(w, r)
		if !ok {
			return
		}
		out, err := res.Resolve(r.Context(), code)
		switch {
		case errors.Is(err, ErrNotFound):
			httpx.WriteError(w, http.StatusNotFound, "not_found", "unknown code "+code)
			return
		case err != nil && httpx.ClientGone(r):
			httpx.WriteClientGone(w)
			return
		case err != nil:
			logger.Debug("redirect: cannot resolve", "code", code, "err", err)
			w.Header().Set("Retry-After", RetryAfter)
			httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot resolve the code now, retry later")
			return
		}
		// The click is recorded before answering, but never waited for: Enqueue does not block.
		// Keyed on the gateway's request key: a retry of this request is the same click.
		clicks.Enqueue(withClickID(r.Context(), httpx.RequestKey(r)), code, out.URL)
		cache := "miss"
		if out.Hit {
			cache = "hit"
		}
		w.Header().Set("X-Cache", cache)
		if out.Stale {
			w.Header().Set("X-Fallback", "stale_cache")
		}
		w.Header().Set("Location", out.URL)
		w.Header().Set("Cache-Control", "no-store") // every hit must reach us to be counted
		w.WriteHeader(http.StatusFound)
	})
}

func handleClicks(clicks clickRecorder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, clicks.Stats())
	})
}
