package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DefaultMaxBody is the body limit for JSON requests when a handler has no better figure.
const DefaultMaxBody = 16 << 10

// ErrorBody is the JSON shape of every error answer (docs/contracts.md).
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response","code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError writes {"error": msg, "code": code} with status.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, ErrorBody{Error: msg, Code: code})
}

// DecodeError is a client mistake in a JSON body; Status is what to answer.
type DecodeError struct {
	Status int
	Code   string
	Msg    string
}

func (e *DecodeError) Error() string { return e.Msg }

// DecodeJSON reads one JSON value from r's body into v, strictly: unknown fields, trailing
// data, an empty body or a body above maxBytes are refused with a *DecodeError (400 or 413).
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBody
	}
	// The Content-Type is not checked: load generators and curl often omit or misstate it,
	// and the body is parsed strictly as JSON anyway.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeErr(err, maxBytes)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeErr(err, maxBytes)
		}
		return &DecodeError{http.StatusBadRequest, "invalid_body", "body: trailing data after the JSON value"}
	}
	return nil
}

func decodeErr(err error, maxBytes int64) error {
	var (
		tooBig *http.MaxBytesError
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &DecodeError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("body: larger than %d bytes", maxBytes)}
	case errors.Is(err, io.EOF):
		return &DecodeError{http.StatusBadRequest, "invalid_body", "body: empty, want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &DecodeError{http.StatusBadRequest, "invalid_body", "body: truncated JSON"}
	case errors.As(err, &syn):
		return &DecodeError{http.StatusBadRequest, "invalid_body", fmt.Sprintf("body: malformed JSON at byte %d", syn.Offset)}
	case errors.As(err, &typ):
		return &DecodeError{http.StatusBadRequest, "invalid_body", fmt.Sprintf("body: field %q: want %s", typ.Field, typ.Type)}
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return &DecodeError{http.StatusBadRequest, "invalid_body", "body: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	return &DecodeError{http.StatusBadRequest, "invalid_body", "body: " + err.Error()}
}

// WriteDecodeError answers a DecodeJSON error (400/413/415 JSON).
func WriteDecodeError(w http.ResponseWriter, err error) {
	var de *DecodeError
	if errors.As(err, &de) {
		WriteError(w, de.Status, de.Code, de.Msg)
		return
	}
	WriteError(w, http.StatusBadRequest, "invalid_body", err.Error())
}

// StatusClientClosedRequest is nginx's 499: the client went away before the answer. A handler
// whose store call failed only because its request was cancelled answers it instead of a 5xx,
// so its server span is not an error: the failure was the caller's (it gave up, its timeout
// fired), and a 503 would blame this service for it (the lab's blast radius reads it so).
const StatusClientClosedRequest = 499

// ClientGone reports whether r's client has gone away (its context cancelled, not timed out
// by this service).
func ClientGone(r *http.Request) bool { return errors.Is(r.Context().Err(), context.Canceled) }

// WriteClientGone answers a request whose client went away: 499, for the logs and the span.
func WriteClientGone(w http.ResponseWriter) {
	WriteError(w, StatusClientClosedRequest, "client_closed_request", "the client went away before the answer")
}
