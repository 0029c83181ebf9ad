// Package otlp is the lab's OTLP/HTTP trace receiver: the services export their spans to it.
package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/faultline/faultline/reports/traces"
)

// Defaults of Options.
const (
	DefaultMaxSpans     = 2_000_000
	DefaultMaxBodyBytes = 16 << 20 // per request, compressed and decompressed alike
	DefaultForwardQueue = 256      // request bodies waiting to be forwarded
	TracesPath          = "/v1/traces"
)

// Media types OTLP/HTTP uses.
const (
	ContentProtobuf = "application/x-protobuf"
	ContentJSON     = "application/json"
)

// ErrNotLoopback is returned by Start for an address other than loopback.
var ErrNotLoopback = errors.New("otlp: listen address is not loopback")

// Options configure a Receiver; zero fields take the defaults.
type Options struct {
	// MaxSpans bounds the spans held in memory; spans beyond it are dropped and counted.
	MaxSpans int
	// MaxBodyBytes bounds one request body, before and after gzip (413 beyond it).
	MaxBodyBytes int64
	// Forward is the base URL of another OTLP/HTTP endpoint (e.g. a collector or Jaeger,
	// "http://127.0.0.1:4318"); every accepted body is posted there as received, in the
	// background, through a queue of ForwardQueue bodies. Bodies that find it full are dropped
	// and counted.
	Forward      string
	ForwardQueue int
	Logger       *slog.Logger
}

// Stats counts what the receiver saw. Spans the receiver lost (Rejected, Dropped) make a blast
// radius computed from the rest suspect; the run reports them.
type Stats struct {
	Received       int // spans stored
	Rejected       int // spans refused inside accepted requests (invalid trace or span id)
	Dropped        int // spans refused because MaxSpans was reached
	Bytes          int // request body bytes read, as sent
	Requests       int // export requests answered 200
	BadRequests    int // requests refused (4xx): their spans are unknown and not counted above
	ForwardDropped int // bodies not forwarded because the queue was full or the receiver closed
	ForwardErrors  int // bodies the forward endpoint did not accept
}

// Receiver collects the spans of one run.
type Receiver struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	spans  []traces.Span
	stats  Stats
	warned bool // span limit reached, logged once

	in *interner

	fwd     chan forwardItem
	fwdDone chan struct{}
	fwdStop context.CancelFunc
	closed  bool

	srv     *http.Server
	srvDone chan struct{}
}

type forwardItem struct {
	body         []byte
	ctype, cenco string
}

// NewReceiver returns a receiver; with Forward set it starts the forwarding worker, which
// Close stops.
func NewReceiver(o Options) *Receiver {
	if o.MaxSpans <= 0 {
		o.MaxSpans = DefaultMaxSpans
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ForwardQueue <= 0 {
		o.ForwardQueue = DefaultForwardQueue
	}
	r := &Receiver{opts: o, log: o.Logger, in: newInterner(1 << 16)}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if o.Forward != "" {
		r.fwd = make(chan forwardItem, o.ForwardQueue)
		r.fwdDone = make(chan struct{})
		var ctx context.Context
		ctx, r.fwdStop = context.WithCancel(context.Background())
		go r.forwardLoop(ctx)
	}
	return r
}

// Handler serves POST /v1/traces.
func (r *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(TracesPath, r.serveTraces)
	return mux
}

// Start listens on addr (loopback only; "" = 127.0.0.1 on a free port) and serves Handler. It
// returns the endpoint to give exporters as OTEL_EXPORTER_OTLP_ENDPOINT ("http://host:port").
func (r *Receiver) Start(ctx context.Context, addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("otlp: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		return "", errors.New("otlp: receiver already started")
	}
	if r.closed {
		return "", errors.New("otlp: receiver closed")
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("otlp: listen: %w", err)
	}
	r.srv = &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 90 * time.Second}
	r.srvDone = make(chan struct{})
	go func() {
		defer close(r.srvDone)
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("otlp: serve", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the server (waiting for in-flight requests until ctx ends) and the forwarder
// (which gets until ctx ends to send what is queued). Spans stay readable.
func (r *Receiver) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	srv, srvDone := r.srv, r.srvDone
	r.mu.Unlock()
	var err error
	if srv != nil {
		if e := srv.Shutdown(ctx); e != nil {
			err = fmt.Errorf("otlp: shutdown: %w", e)
			srv.Close()
		}
		<-srvDone
	}
	if r.fwd != nil {
		r.mu.Lock()
		close(r.fwd) // no sender runs now: enqueue checks closed under mu
		r.mu.Unlock()
		select {
		case <-r.fwdDone:
		case <-ctx.Done():
			r.fwdCancel()
			<-r.fwdDone
		}
		r.fwdStop()
	}
	return err
}

// Spans returns the spans received so far. The snapshot shares memory with the receiver but
// never changes: spans are only appended past its end.
func (r *Receiver) Spans() []traces.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spans[:len(r.spans):len(r.spans)]
}

// Reset forgets the spans and zeroes the counters (between runs).
func (r *Receiver) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = nil
	r.stats = Stats{}
	r.warned = false
}

// Stats returns the counters.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// httpError is a refused request: its status and message.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func (r *Receiver) serveTraces(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.refuse(w, "", &httpError{http.StatusMethodNotAllowed, "otlp: method " + req.Method + " not allowed, use POST"})
		return
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || (mt != ContentProtobuf && mt != ContentJSON) {
		r.refuse(w, "", &httpError{http.StatusUnsupportedMediaType,
			fmt.Sprintf("otlp: content type %q not supported, use %s or %s", req.Header.Get("Content-Type"), ContentProtobuf, ContentJSON)})
		return
	}
	raw, body, herr := r.readRequest(w, req, mt)
	if herr != nil {
		r.refuse(w, mt, herr)
		return
	}
	spans, rejected, err := r.decodeWire(body, mt == ContentJSON)
	if err != nil {
		r.refuse(w, mt, &httpError{http.StatusBadRequest, "otlp: decode " + mt + ": " + err.Error()})
		return
	}

	r.mu.Lock()
	room := max(r.opts.MaxSpans-len(r.spans), 0)
	keep := min(room, len(spans))
	r.spans = append(r.spans, spans[:keep]...)
	dropped := len(spans) - keep
	r.stats.Received += keep
	r.stats.Dropped += dropped
	r.stats.Rejected += rejected
	r.stats.Bytes += len(raw)
	r.stats.Requests++
	warn := dropped > 0 && !r.warned
	r.warned = r.warned || warn
	if r.fwd != nil {
		r.enqueueLocked(forwardItem{body: raw, ctype: req.Header.Get("Content-Type"), cenco: req.Header.Get("Content-Encoding")})
	}
	r.mu.Unlock()
	if warn {
		r.log.Warn("otlp: span limit reached, dropping spans", "max_spans", r.opts.MaxSpans)
	}

	resp := &coltracepb.ExportTraceServiceResponse{}
	if n := dropped + rejected; n > 0 {
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{
			RejectedSpans: int64(n),
			ErrorMessage:  fmt.Sprintf("%d spans over the receiver's limit of %d, %d with invalid ids", dropped, r.opts.MaxSpans, rejected),
		}
	}
	writeMessage(w, mt, http.StatusOK, resp)
}

// readRequest reads and decompresses a body within the size limit. raw is the body as sent
// (for forwarding), wire the request in the protobuf encoding (a JSON body is decoded and
// encoded again: senders use protobuf, and one decoder then reads both).
func (r *Receiver) readRequest(w http.ResponseWriter, req *http.Request, mt string) (raw, wire []byte, _ *httpError) {
	limit := r.opts.MaxBodyBytes
	raw, err := io.ReadAll(http.MaxBytesReader(w, req.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("otlp: body over %d bytes", limit)}
		}
		return nil, nil, &httpError{http.StatusBadRequest, "otlp: read body: " + err.Error()}
	}
	body := raw
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, &httpError{http.StatusBadRequest, "otlp: gzip: " + err.Error()}
		}
		body, err = io.ReadAll(io.LimitReader(zr, limit+1))
		if err != nil {
			return nil, nil, &httpError{http.StatusBadRequest, "otlp: gzip: " + err.Error()}
		}
		if int64(len(body)) > limit {
			return nil, nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("otlp: decompressed body over %d bytes", limit)}
		}
	default:
		return nil, nil, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("otlp: content encoding %q not supported, use gzip or none", enc)}
	}
	if mt != ContentJSON {
		return raw, body, nil
	}
	msg := &coltracepb.ExportTraceServiceRequest{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, msg); err != nil {
		return nil, nil, &httpError{http.StatusBadRequest, "otlp: decode " + mt + ": " + err.Error()}
	}
	if body, err = proto.Marshal(msg); err != nil {
		return nil, nil, &httpError{http.StatusBadRequest, "otlp: decode " + mt + ": " + err.Error()}
	}
	return raw, body, nil
}

// refuse answers an error with a google.rpc.Status in the request's encoding, as OTLP/HTTP
// asks (plain text when the encoding is unknown).
func (r *Receiver) refuse(w http.ResponseWriter, mt string, e *httpError) {
	r.mu.Lock()
	r.stats.BadRequests++
	r.mu.Unlock()
	r.log.Debug("otlp: request refused", "status", e.code, "err", e.msg)
	if mt == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(e.code)
		io.WriteString(w, e.msg+"\n")
		return
	}
	// decoder errors may quote invalid UTF-8, which a proto string cannot carry
	writeMessage(w, mt, e.code, &statuspb.Status{Code: grpcCode(e.code), Message: strings.ToValidUTF8(e.msg, "\uFFFD")})
}

// grpcCode maps the HTTP status to the gRPC code the Status message carries.
func grpcCode(httpStatus int) int32 {
	switch httpStatus {
	case http.StatusRequestEntityTooLarge:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		return 12 // UNIMPLEMENTED
	}
	return 3 // INVALID_ARGUMENT
}

func writeMessage(w http.ResponseWriter, mt string, code int, m proto.Message) {
	var b []byte
	var err error
	if mt == ContentJSON {
		b, err = protojson.Marshal(m)
	} else {
		b, err = proto.Marshal(m)
	}
	if err != nil { // keep the status: the request's fate is decided, only its wording failed
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		io.WriteString(w, "otlp: encode response: "+err.Error()+"\n")
		return
	}
	w.Header().Set("Content-Type", mt)
	w.WriteHeader(code)
	w.Write(b)
}
