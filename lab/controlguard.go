package lab

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// The control API kills and pauses processes, so it must answer the lab's own user only, not
// a web page open in that user's browser: a page can POST a simple (CORS-exempt) request to
// any loopback port, and with DNS rebinding even read the answer. Three checks close that:
// the Host header must name the listener (a rebinding page sends its own host name), an
// Origin header, when present, must be the API's own origin (a browser adds the page's to
// every cross-site POST), and every request that changes something must carry the lab's
// token as "Authorization: Bearer TOKEN". The token lives in the state file (mode 0600), which
// the CLI reads; a page cannot read files, and sending the header would need a CORS preflight
// this API never grants.

// newToken returns 32 random bytes in hex.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("lab: control token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// controlGuard wraps the control API listening on addr ("127.0.0.1:PORT").
func controlGuard(addr, token string, next http.Handler) http.Handler {
	_, port, _ := net.SplitHostPort(addr)
	hosts := []string{addr, "localhost:" + port}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !containsFold(hosts, r.Host) {
			refuse(w, http.StatusForbidden, "forbidden_host",
				fmt.Sprintf("lab: control: Host %q refused: want %s (a request naming another host is a DNS-rebinding page, not the CLI)", r.Host, strings.Join(hosts, " or ")))
			return
		}
		if o, ok := r.Header["Origin"]; ok && !ownOrigin(o, hosts) {
			refuse(w, http.StatusForbidden, "forbidden_origin",
				fmt.Sprintf("lab: control: Origin %q refused: only the CLI (no Origin) or http://%s may call this API", strings.Join(o, ", "), addr))
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok || got == "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="faultline lab"`)
			refuse(w, http.StatusUnauthorized, "unauthorized",
				"lab: control: "+r.Method+" needs Authorization: Bearer <token>; the token is in the lab's state file (faultline inject, heal and status read it)")
		case subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1:
			w.Header().Set("WWW-Authenticate", `Bearer realm="faultline lab", error="invalid_token"`)
			refuse(w, http.StatusUnauthorized, "unauthorized", "lab: control: wrong token: it is not the one in this lab's state file")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// ownOrigin says whether the Origin header values name the API itself.
func ownOrigin(origin, hosts []string) bool {
	if len(origin) != 1 {
		return false
	}
	h, ok := strings.CutPrefix(origin[0], "http://")
	return ok && containsFold(hosts, h)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func refuse(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}
