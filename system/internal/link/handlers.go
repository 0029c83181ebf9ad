package link

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/shortcode"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// maxCreateBody bounds POST /links: a 2 KiB URL plus an account fits with room to spare.
const maxCreateBody = 8 << 10

// codeAttempts bounds retries on a code collision (each has odds ~1e-9 at a million links).
const codeAttempts = 5

// quotaChecker and linkStore are what the handlers need; tests may give fakes.
type quotaChecker interface {
	Check(ctx context.Context, account string) (QuotaResult, error)
}

type linkStore interface {
	Insert(ctx context.Context, l Link, ev *events.Event, traceparent string) error
	Get(ctx context.Context, code string) (Link, error)
}

// handlers serves the link API.
type handlers struct {
	store  linkStore
	quota  quotaChecker
	t      *telemetry.Telemetry
	logger *slog.Logger
	outbox bool
	notify func()                                     // wakes the outbox relay after a commit
	direct func(ctx context.Context, ev events.Event) // publishes after commit when the outbox is off
	now    func() time.Time
}

type createRequest struct {
	URL     string `json:"url"`
	Account string `json:"account"`
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req createRequest
	if err := httpx.DecodeJSON(w, r, &req, maxCreateBody); err != nil {
		httpx.WriteDecodeError(w, err)
		return
	}
	target, err := ValidateURL(req.URL)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_url", err.Error())
		return
	}
	account, err := ValidateAccount(req.Account)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_account", err.Error())
		return
	}
	q, err := h.quota.Check(ctx, account)
	if err != nil {
		status := resilience.StatusFor(err)
		h.logger.Warn("link: quota check failed", "account", account, "error", err)
		w.Header().Set("Retry-After", "1")
		httpx.WriteError(w, status, "billing_unavailable", "cannot check quota: "+err.Error())
		return
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.Bool(telemetry.AttrQuotaChecked, q.Checked))
	if !q.Checked {
		h.t.Metrics.LinksUnchecked.Inc()
	}
	if !q.Allowed {
		httpx.WriteError(w, http.StatusPaymentRequired, "quota_exceeded", "account "+account+" has no links left on its plan")
		return
	}
	l := Link{URL: target, Account: account, QuotaChecked: q.Checked, CreatedAt: h.now().UTC().Truncate(time.Microsecond)}
	var ev *events.Event
	for attempt := 1; ; attempt++ {
		code, err := shortcode.Generate()
		if err != nil {
			httpx.WriteError(w, http.StatusInternalServerError, "internal", "cannot generate a code")
			return
		}
		l.Code = code
		e := events.Event{ID: events.NewID(), Type: events.TypeLinkCreated, Code: code, Account: account, URL: target, At: l.CreatedAt}
		ev = &e
		var outboxEv *events.Event
		if h.outbox {
			outboxEv = ev
		}
		err = h.store.Insert(ctx, l, outboxEv, events.Traceparent(ctx, h.t.Propagator))
		if err == nil {
			break
		}
		if errors.Is(err, errCollision) && attempt < codeAttempts {
			continue
		}
		h.storeError(w, r, err)
		return
	}
	if h.outbox {
		h.notify()
	} else {
		h.direct(ctx, *ev)
	}
	httpx.WriteJSON(w, http.StatusCreated, l)
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if !shortcode.Valid(code) {
		httpx.WriteError(w, http.StatusNotFound, "not_found", "no link with this code")
		return
	}
	l, err := h.store.Get(r.Context(), code)
	if errors.Is(err, ErrNotFound) {
		httpx.WriteError(w, http.StatusNotFound, "not_found", "no link with this code")
		return
	}
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Code      string    `json:"code"`
		URL       string    `json:"url"`
		Account   string    `json:"account"`
		CreatedAt time.Time `json:"created_at"`
	}{l.Code, l.URL, l.Account, l.CreatedAt})
}

// storeError answers a database failure: the pipeline's own refusals map through StatusFor,
// anything else means the database cannot answer now (503, retry later).
func (h *handlers) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if httpx.ClientGone(r) {
		httpx.WriteClientGone(w)
		return
	}
	w.Header().Set("Retry-After", "1")
	resilience.MarkShed(w.Header(), err)
	if errors.Is(err, resilience.ErrOpen) || errors.Is(err, resilience.ErrFull) || errors.Is(err, resilience.ErrTimeout) {
		httpx.WriteError(w, resilience.StatusFor(err), resilience.CodeFor(err), "link-db: "+err.Error())
		return
	}
	h.logger.Warn("link: database error", "error", err)
	httpx.WriteError(w, http.StatusServiceUnavailable, "db_unavailable", "link-db cannot answer now")
}

// routes is every route of the link service.
func routes(h *handlers, t *telemetry.Telemetry, ready map[string]func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /links", httpx.Instrument(t, "/links", http.HandlerFunc(h.create)))
	mux.Handle("/links", httpx.Instrument(t, "/links", httpx.MethodNotAllowed("POST")))
	mux.Handle("GET /links/{code}", httpx.Instrument(t, "/links/{code}", http.HandlerFunc(h.get)))
	mux.Handle("/links/{code}", httpx.Instrument(t, "/links/{code}", httpx.MethodNotAllowed("GET")))
	httpx.HandleOps(mux, t, ready)
	mux.Handle("/", httpx.Instrument(t, "unmatched", httpx.NotFound()))
	return mux
}
