package analytics

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/faultline/faultline/system/internal/httpx"
)

// statsReader is the part of Store the handlers use.
type statsReader interface {
	Clicks(ctx context.Context, code string) (int64, error)
	Stats(ctx context.Context) (Stats, error)
}

// CodeStats is the body of GET /stats/{code}.
type CodeStats struct {
	Code   string `json:"code"`
	Clicks int64  `json:"clicks"`
}

func handleCodeStats(logger *slog.Logger, store statsReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, ok := httpx.CodeParam(w, r)
		if !ok {
			return
		}
		n, err := store.Clicks(r.Context(), code)
		if err != nil {
			logger.Warn("analytics: stats of code", "code", code, "err", err)
			writeUnavailable(w, r)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, CodeStats{Code: code, Clicks: n})
	})
}

func handleStats(logger *slog.Logger, store statsReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := store.Stats(r.Context())
		if err != nil {
			logger.Warn("analytics: stats", "err", err)
			writeUnavailable(w, r)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, st)
	})
}

func writeUnavailable(w http.ResponseWriter, r *http.Request) {
	if httpx.ClientGone(r) {
		httpx.WriteClientGone(w)
		return
	}
	w.Header().Set("Retry-After", "1")
	httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "analytics database unavailable, retry later")
}
