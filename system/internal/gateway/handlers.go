package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"

	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
)

// MaxCreateBody is the body limit of POST /api/links.
const MaxCreateBody = 16 << 10

// passHeaders are the upstream answer headers a client may rely on.
var passHeaders = []string{"Content-Type", "Location", "Retry-After", "X-Cache", "X-Fallback", "Cache-Control", resilience.ShedHeader}

// relayCode relays GET prefix+{code} to up once {code} is a valid short code.
func relayCode(logger *slog.Logger, up Caller, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, ok := httpx.CodeParam(w, r)
		if !ok {
			return
		}
		relay(w, r, logger, up, http.MethodGet, prefix+url.PathEscape(code), nil)
	})
}

func handleRedirect(logger *slog.Logger, redirect Caller) http.Handler {
	return relayCode(logger, redirect, "/r/")
}

func handleCreate(logger *slog.Logger, link Caller) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				httpx.WriteError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "body: want Content-Type application/json")
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCreateBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			httpx.WriteError(w, http.StatusRequestEntityTooLarge, "body_too_large", "body: larger than 16384 bytes")
			return
		case err != nil:
			httpx.WriteError(w, http.StatusBadRequest, "invalid_body", "body: "+err.Error())
			return
		case !json.Valid(body):
			// Checked here so junk never costs a link call; link validates the fields.
			httpx.WriteError(w, http.StatusBadRequest, "invalid_body", "body: want a JSON object like {\"url\": \"https://...\"}")
			return
		}
		relay(w, r, logger, link, http.MethodPost, "/links", body)
	})
}

func handleGet(logger *slog.Logger, link Caller) http.Handler {
	return relayCode(logger, link, "/links/")
}

func handleStats(logger *slog.Logger, analytics Caller) http.Handler {
	return relayCode(logger, analytics, "/stats/")
}

// relay sends the request upstream and copies the answer back. Upstream answers pass through
// (a 302 is relayed, never followed), except an upstream 500-class answer other than 503/504,
// which is the upstream's bug and becomes 502. A pipeline failure maps via StatusFor.
func relay(w http.ResponseWriter, r *http.Request, logger *slog.Logger, up Caller, method, path string, body []byte) {
	// One key per client request, the same on every retry of it (never the client's own).
	rep, err := up.Call(httpx.WithRequestKey(r.Context(), httpx.NewRequestKey()), method, path, body)
	if err != nil {
		status := resilience.StatusFor(err)
		if status == http.StatusOK || status == http.StatusTooManyRequests {
			status = http.StatusBadGateway // the pipeline has no rate limiter: anything else is an upstream failure
		}
		logger.Debug("gateway: upstream failed", "path", path, "status", status, "err", err)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		resilience.MarkShed(w.Header(), err)
		httpx.WriteError(w, status, resilience.CodeFor(err), http.StatusText(status)+": upstream unavailable")
		return
	}
	if rep.Status >= 500 && rep.Status != http.StatusServiceUnavailable && rep.Status != http.StatusGatewayTimeout {
		httpx.WriteError(w, http.StatusBadGateway, "upstream_error", "Bad Gateway: upstream answered "+http.StatusText(rep.Status))
		return
	}
	for _, h := range passHeaders {
		if v := rep.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body)
}
