package gateway

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// Route names of the profile's routes section.
const (
	RouteRedirect = "redirect"
	RouteCreate   = "create"
	RouteGet      = "get"
	RouteStats    = "stats"
)

// Upstreams are the peers the gateway relays to.
type Upstreams struct {
	Redirect, Link, Analytics Caller
}

// addRoutes is the whole public HTTP surface. Each route is instrumented first (so guard
// rejections are on the server span and in the metrics), then guarded by its profile policy.
func addRoutes(mux *http.ServeMux, logger *slog.Logger, tel *telemetry.Telemetry, profile *resilience.Profile, up Upstreams, ready map[string]func(context.Context) error) {
	handle := func(pattern, route string, h http.Handler) {
		guard := resilience.Guard(route, profile.Route(route), tel, logger)
		mux.Handle(pattern, httpx.Instrument(tel, pattern, guard(h)))
	}
	handle("GET /r/{code}", RouteRedirect, handleRedirect(logger, up.Redirect))
	handle("POST /api/links", RouteCreate, handleCreate(logger, up.Link))
	handle("GET /api/links/{code}", RouteGet, handleGet(logger, up.Link))
	handle("GET /api/links/{code}/stats", RouteStats, handleStats(logger, up.Analytics))
	httpx.HandleOps(mux, tel, ready)
	mux.Handle("/", httpx.NotFound())
}

// NewServer returns the gateway's HTTP handler; every dependency is explicit.
func NewServer(logger *slog.Logger, tel *telemetry.Telemetry, profile *resilience.Profile, up Upstreams, ready map[string]func(context.Context) error) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	addRoutes(mux, logger, tel, profile, up, ready)
	return mux
}
