package httpx

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// CheckTimeout bounds each readiness check, so /readyz answers fast even when a dependency hangs.
const CheckTimeout = 500 * time.Millisecond

// HandleOps adds the operational endpoints every service has (docs/contracts.md): GET /healthz,
// GET /readyz running the ready checks, and GET /metrics.
func HandleOps(mux *http.ServeMux, t *telemetry.Telemetry, ready map[string]func(context.Context) error) {
	mux.Handle("GET /healthz", HealthHandler())
	mux.Handle("GET /readyz", ReadyHandler(ready))
	mux.Handle("GET /metrics", t.Handler())
}

// HealthHandler answers 200 while the process is alive (/healthz).
func HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// ReadyHandler runs every check concurrently (each bounded by CheckTimeout) and answers 200, or
// 503 with {"status":"unavailable","down":{"name":"why"}} (/readyz).
func ReadyHandler(checks map[string]func(ctx context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			down = map[string]string{}
		)
		for name, check := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
				defer cancel()
				if err := check(ctx); err != nil {
					mu.Lock()
					down[name] = err.Error()
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(down) > 0 {
			names := make([]string, 0, len(down))
			for n := range down {
				names = append(names, n)
			}
			sort.Strings(names)
			WriteJSON(w, http.StatusServiceUnavailable, map[string]any{
				"status": "unavailable", "error": "not ready: " + joinNames(names), "code": "not_ready", "down": down,
			})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func joinNames(ns []string) string {
	out := ""
	for i, n := range ns {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
