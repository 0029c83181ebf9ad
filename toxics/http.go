package toxics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/toxics/httptoxic"
)

// HTTPOptions are the parameters every request-level fault shares: which requests it
// considers and which share of those it picks, seeded so a run repeats its pattern.
type HTTPOptions struct {
	// Share is the share of matching requests affected, in (0, 1].
	Share *float64 `json:"share"`
	// Method and Path narrow the requests considered: an exact method, a path prefix.
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Seed picks the pattern; the same seed picks the same requests (by order). nil means 1.
	Seed *int64 `json:"seed,omitempty"`
	// ByPath picks by path instead of by order: every request for a picked path is affected,
	// its retries too (a poison key, a hot row), and share is the share of distinct paths.
	ByPath bool `json:"by_path,omitempty"`
}

func (o HTTPOptions) validate() error {
	if o.Share == nil {
		return errors.New("share is required: the share of matching requests affected, in (0, 1] (e.g. share=0.1)")
	}
	if !(*o.Share > 0 && *o.Share <= 1) {
		return fmt.Errorf("share %v: want a share of requests in (0, 1] (0 affects none: the fault would do nothing)", *o.Share)
	}
	return nil
}

func (o HTTPOptions) attrs() httptoxic.Attrs {
	a := httptoxic.Attrs{Method: o.Method, Path: o.Path, Seed: 1, ByPath: o.ByPath}
	if o.Share != nil {
		a.Share = *o.Share
	}
	if o.Seed != nil {
		a.Seed = *o.Seed
	}
	return a
}

// HTTPError answers a share of requests with an HTTP error status of its own (the callee
// never sees them), optionally with a body and a Retry-After header.
type HTTPError struct {
	Status     int      `json:"status"`
	Body       string   `json:"body,omitempty"`
	RetryAfter Duration `json:"retry_after,omitempty"`
	HTTPOptions
}

// HTTPLatency holds a share of requests for Latency ± Jitter before forwarding them.
type HTTPLatency struct {
	Latency Duration `json:"latency"`
	Jitter  Duration `json:"jitter,omitempty"`
	HTTPOptions
}

// HTTPReset forwards a share of requests and cuts their responses short: the caller gets
// the head (and half of a sized body), then the connection closes.
type HTTPReset struct {
	HTTPOptions
}

func init() {
	Register(httptoxic.TypeError, func() Fault { return new(HTTPError) })
	Register(httptoxic.TypeLatency, func() Fault { return new(HTTPLatency) })
	Register(httptoxic.TypeReset, func() Fault { return new(HTTPReset) })
}

func (*HTTPError) Kind() Kind   { return Network }
func (*HTTPLatency) Kind() Kind { return Network }
func (*HTTPReset) Kind() Kind   { return Network }

func (f *HTTPError) Validate() error {
	if f.Status < 200 || f.Status > 599 {
		return fmt.Errorf("status %d: want a final HTTP status in 200..599 (e.g. status=503)", f.Status)
	}
	if f.RetryAfter < 0 || f.RetryAfter%Duration(time.Second) != 0 {
		return fmt.Errorf("retry_after %s: want whole seconds >= 0 (Retry-After counts seconds)", f.RetryAfter)
	}
	return f.check(httptoxic.TypeError, f.attrs())
}

func (f *HTTPLatency) Validate() error {
	if err := validateDelay(f.Latency, f.Jitter, "2s"); err != nil {
		return err
	}
	return f.check(httptoxic.TypeLatency, f.attrs())
}

func (f *HTTPReset) Validate() error { return f.check(httptoxic.TypeReset, f.attrs()) }

// check validates the shared options, then the whole attribute set as Toxiproxy will.
func (o HTTPOptions) check(typ string, a httptoxic.Attrs) error {
	if err := o.validate(); err != nil {
		return err
	}
	a.Role, a.Pair = httptoxic.RoleRequests, "check"
	if err := a.Validate(typ); err != nil {
		return errors.Unwrap(err) // the fault's name is added by New
	}
	return nil
}

func (f *HTTPError) attrs() httptoxic.Attrs {
	a := f.HTTPOptions.attrs()
	a.Status, a.Body, a.RetryAfter = f.Status, f.Body, int64(f.RetryAfter.D()/time.Second)
	return a
}

func (f *HTTPLatency) attrs() httptoxic.Attrs {
	a := f.HTTPOptions.attrs()
	a.Latency, a.Jitter = f.Latency.Ms(), f.Jitter.Ms()
	return a
}

func (f *HTTPError) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addHTTP(ctx, env, edge, httptoxic.TypeError, f.attrs())
}

func (f *HTTPLatency) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addHTTP(ctx, env, edge, httptoxic.TypeLatency, f.attrs())
}

func (f *HTTPReset) Apply(ctx context.Context, env Env, edge string) (Undo, error) {
	return addHTTP(ctx, env, edge, httptoxic.TypeReset, f.HTTPOptions.attrs())
}

// addHTTP adds one request-level toxic (two for http_error and http_reset, see httptoxic)
// and returns the undo that removes them, requests half first. An edge carries at most one
// http_error or http_reset at a time: two answering halves in one chain would each see the
// other's answers as responses nobody asked for.
func addHTTP(ctx context.Context, env Env, edge, typ string, a httptoxic.Attrs) (Undo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	proxy, err := env.Proxy(edge)
	if err != nil {
		return nil, fmt.Errorf("toxics: %s on %s: %w", typ, edge, err)
	}
	if typ != httptoxic.TypeLatency {
		list, err := proxy.Toxics()
		if err != nil {
			return nil, fmt.Errorf("toxics: %s on %s: %w", typ, edge, err)
		}
		for _, t := range list {
			if t.Type == httptoxic.TypeError || t.Type == httptoxic.TypeReset {
				return nil, fmt.Errorf("toxics: %s on %s: the edge already carries %s (%s); one http_error or http_reset per edge at a time", typ, edge, t.Type, t.Name)
			}
		}
	}
	name := fmt.Sprintf("%s%s-%d-%d", ToxicPrefix, typ, pid, seq.Add(1))
	names, err := httptoxic.Add(proxy, typ, name, a)
	if err != nil {
		return nil, fmt.Errorf("toxics: %s on %s: %w", typ, edge, err)
	}
	return onceUndo(func(ctx context.Context) error {
		return retryHeal(ctx, func() error {
			p, err := env.Proxy(edge)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("toxics: heal %s on %s: %w", typ, edge, err)
			}
			if err := httptoxic.Remove(p, names); err != nil {
				return fmt.Errorf("toxics: heal %s on %s: %w", typ, edge, err)
			}
			return nil
		})
	}), nil
}
