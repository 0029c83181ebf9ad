package httpx

import (
	"net/http"

	"github.com/faultline/faultline/system/internal/shortcode"
)

// CodeParam returns the {code} path parameter when it is a short code; otherwise it answers
// 400 invalid_code JSON and returns false.
func CodeParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	code := r.PathValue("code")
	if !shortcode.Valid(code) {
		WriteError(w, http.StatusBadRequest, "invalid_code", shortcode.Rule)
		return "", false
	}
	return code, true
}

// MethodNotAllowed answers 405 method_not_allowed JSON naming the allowed method(s).
func MethodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" not allowed, want "+allow)
	})
}
