package analytics

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// addRoutes is the whole HTTP surface of analytics.
func addRoutes(mux *http.ServeMux, logger *slog.Logger, tel *telemetry.Telemetry, store statsReader, ready map[string]func(context.Context) error) {
	handle := func(route string, h http.Handler) { mux.Handle(route, httpx.Instrument(tel, route, h)) }
	handle("GET /stats/{code}", handleCodeStats(logger, store))
	handle("GET /stats", handleStats(logger, store))
	httpx.HandleOps(mux, tel, ready)
	mux.Handle("/", httpx.NotFound())
}

// NewServer returns analytics' HTTP handler; every dependency is explicit.
func NewServer(logger *slog.Logger, tel *telemetry.Telemetry, store statsReader, ready map[string]func(context.Context) error) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	addRoutes(mux, logger, tel, store, ready)
	return mux
}
