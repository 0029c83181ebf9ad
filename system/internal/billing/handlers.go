package billing

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/telemetry"
)

var accountRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

const accountRule = "account: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"

type handlers struct {
	store  *Store
	logger *slog.Logger
}

func (h *handlers) account(w http.ResponseWriter, r *http.Request) (string, bool) {
	a := r.PathValue("account")
	if !accountRE.MatchString(a) {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_account", accountRule)
		return "", false
	}
	return a, true
}

func (h *handlers) quota(w http.ResponseWriter, r *http.Request) {
	a, ok := h.account(w, r)
	if !ok {
		return
	}
	q, err := h.store.Quota(r.Context(), a)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, q)
}

func (h *handlers) usage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.account(w, r)
	if !ok {
		return
	}
	n, err := h.store.Usage(r.Context(), a)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"account": a, "links_created": n})
}

func (h *handlers) setPlan(w http.ResponseWriter, r *http.Request) {
	a, ok := h.account(w, r)
	if !ok {
		return
	}
	var body struct {
		Plan string `json:"plan"`
	}
	if err := httpx.DecodeJSON(w, r, &body, 1<<10); err != nil {
		httpx.WriteDecodeError(w, err)
		return
	}
	if err := h.store.SetPlan(r.Context(), a, body.Plan); err != nil {
		if errors.Is(err, ErrUnknownPlan) {
			httpx.WriteError(w, http.StatusBadRequest, "unknown_plan", err.Error())
			return
		}
		h.unavailable(w, r, err)
		return
	}
	q, err := h.store.Quota(r.Context(), a)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, q)
}

func (h *handlers) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if httpx.ClientGone(r) {
		httpx.WriteClientGone(w)
		return
	}
	h.logger.Warn("billing: store error", "error", err)
	w.Header().Set("Retry-After", "1")
	httpx.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "billing store cannot answer now")
}

// routes is every route of the billing service.
func routes(h *handlers, t *telemetry.Telemetry, ready map[string]func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /quota/{account}", httpx.Instrument(t, "/quota/{account}", http.HandlerFunc(h.quota)))
	mux.Handle("/quota/{account}", httpx.Instrument(t, "/quota/{account}", httpx.MethodNotAllowed("GET")))
	mux.Handle("GET /usage/{account}", httpx.Instrument(t, "/usage/{account}", http.HandlerFunc(h.usage)))
	mux.Handle("/usage/{account}", httpx.Instrument(t, "/usage/{account}", httpx.MethodNotAllowed("GET")))
	mux.Handle("PUT /accounts/{account}", httpx.Instrument(t, "/accounts/{account}", http.HandlerFunc(h.setPlan)))
	mux.Handle("/accounts/{account}", httpx.Instrument(t, "/accounts/{account}", httpx.MethodNotAllowed("PUT")))
	httpx.HandleOps(mux, t, ready)
	mux.Handle("/", httpx.Instrument(t, "unmatched", httpx.NotFound()))
	return mux
}
