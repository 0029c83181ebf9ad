package resilience

import (
	"context"
	"errors"
	"net/http"

	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/timeout"
)

// Sentinels callers branch on, so no package outside resilience imports failsafe-go.
var (
	ErrOpen        = circuitbreaker.ErrOpen // breaker open: the callee is not called
	ErrFull        = bulkhead.ErrFull       // bulkhead full: too many calls in flight
	ErrTimeout     = timeout.ErrExceeded    // an attempt took longer than the edge's timeout
	ErrRateLimited = ratelimiter.ErrExceeded
)

// ShedHeader marks an answer refused on purpose by the callee's own protection (a full
// bulkhead, a rate limit): back-pressure, not ill health. Its value is the refusal's code.
const ShedHeader = "X-Load-Shed"

// Shed reports whether err is the pipeline refusing a call to protect the callee.
func Shed(err error) bool {
	return errors.Is(err, ErrFull) || errors.Is(err, ErrRateLimited) || errors.Is(err, ErrLimited)
}

// MarkShed sets ShedHeader on an answer when err is such a refusal.
func MarkShed(h http.Header, err error) {
	if Shed(err) {
		h.Set(ShedHeader, CodeFor(err))
	}
}

// StatusFor maps a call failure to the HTTP status to answer with; the one place that does.
func StatusFor(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrOpen), errors.Is(err, ErrFull), errors.Is(err, ErrLimited), errors.Is(err, ErrThrottled), errors.Is(err, ErrBudget):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// CodeFor is the machine error code matching StatusFor.
func CodeFor(err error) string {
	switch {
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrOpen):
		return "breaker_open"
	case errors.Is(err, ErrFull):
		return "bulkhead_full"
	case errors.Is(err, ErrLimited):
		return "limit_exceeded"
	case errors.Is(err, ErrThrottled):
		return "throttled"
	case errors.Is(err, ErrBudget):
		return "retry_budget_exceeded"
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "upstream_error"
}
