package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// HeaderRequestKey carries one id per client request on every call the gateway makes for it,
// retries included. A callee whose work has a side effect keys it on this id, so a retry after
// a lost answer repeats nothing (redirect uses it as the click's event id: JetStream and
// analytics then drop the second copy).
const HeaderRequestKey = "Idempotency-Key"

type requestKey struct{}

// NewRequestKey returns a random 128-bit key in hex.
func NewRequestKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux
	return hex.EncodeToString(b[:])
}

// WithRequestKey returns ctx carrying key for the calls made on its behalf.
func WithRequestKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, requestKey{}, key)
}

// RequestKeyFrom returns the key ctx carries, or "".
func RequestKeyFrom(ctx context.Context) string {
	k, _ := ctx.Value(requestKey{}).(string)
	return k
}

// RequestKey reads a request's key, accepting only what NewRequestKey makes (or a UUID):
// 8 to 64 characters of hex digits and dashes. Anything else is "" (the callee then mints
// its own id: a malformed key must not merge two clicks).
func RequestKey(r *http.Request) string {
	k := r.Header.Get(HeaderRequestKey)
	if len(k) < 8 || len(k) > 64 {
		return ""
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '-') {
			return ""
		}
	}
	return k
}
