// Package httptoxic holds Toxiproxy toxics that act on HTTP/1.1 requests instead of whole
// connections: http_error answers a seeded share of requests itself, http_latency delays a
// share, http_reset cuts a share of responses short and closes the connection.
//
// Importing the package registers the toxics with Toxiproxy's registry, so a Toxiproxy
// server in the same binary (the lab's, `faultline serve toxiproxy`) serves them through its
// HTTP API like its stock toxics, and toxiproxy-cli lists and removes them.
//
// # Pairing a request with its response
//
// A Toxiproxy toxic acts on one direction of one connection and is not told which
// connection. http_latency needs only the requests (it holds a chosen request before it is
// forwarded). http_error and http_reset need both: the request says whether a request is
// chosen (share, method, path) and what its response looks like (a HEAD response has no
// body), and the response is where the answer goes. One such fault is therefore two toxics
// with the same "pair" attribute: role "requests" on the upstream stream and role
// "responses" on the downstream stream, added in that order (responses first), then armed
// by adding (and at once removing) an http_arm toxic naming the pair. (Not by an update of
// a half: Toxiproxy writes an updated toxic's toxicity while its connections read it.)
//
// Once armed, the two halves of one connection meet through NewState: Toxiproxy's accept
// loop (one goroutine per proxy) starts a connection's upstream link and then its downstream
// link, each calling NewState of the toxics in its chain, back to back. The requests half's
// NewState leaves a fresh per-connection pair in its group; the responses half's NewState,
// the next one of that group, takes it. No other NewState of the group can come between:
// the only other callers are the additions of the two toxics themselves, which happen
// before arming. Connections that were open before arming (or that meet a late or missing
// half) stay unpaired: their requests are forwarded untouched and counted as "unfollowed",
// and the responses half adds "Connection: close" to their next response, so a keep-alive
// pool replaces them with paired connections within one request each instead of evading
// the fault for the life of the pool (Toxiproxy #148 is that evasion for plain toxics).
//
// On a paired connection the requests half parses each request head and body (Content-Length
// or chunked) and queues a slot per request for the responses half, in order, before a byte
// of the request is forwarded. A slot either forwards (the responses half then parses one
// response and passes it on, a 1xx before it included) or carries a ready answer for a
// request that was not forwarded at all, like Envoy's abort: the upstream never sees it.
// Pipelined requests work because the server answers in order and the slots are in order.
//
// Bytes that do not parse (not HTTP/1.x, an oversized head, ambiguous framing, a protocol
// upgrade or CONNECT tunnel) are passed through untouched from there on, and the connection
// and bytes are counted; the responses half does the same when a response comes that no
// request announced.
//
// Removal is safe while connections are open: the requests half's Cleanup finishes
// swallowing the body of a request it answered itself (or closes the connection if the body
// does not come within a few seconds), flushes what it held and tells the responses half no
// more slots come; the responses half's Cleanup stays until it has given every queued
// answer. Removing the requests half first (as `faultline heal` and the lab do, listing
// upstream toxics first) is the clean order; removed the other way, the requests half stops
// choosing once it learns its partner is gone.
//
// A toxic's toxicity must stay 1: its share is its own seeded "share", and Toxiproxy's
// toxicity would run a no-op instead on a random share of connections, which for one half of
// a pair would strand the other.
package httptoxic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	tptoxics "github.com/Shopify/toxiproxy/v2/toxics"
)

// Type names, as Toxiproxy and Faultline know them.
const (
	TypeError   = "http_error"
	TypeLatency = "http_latency"
	TypeReset   = "http_reset"
	TypeArm     = "http_arm" // arms a pair; see the package doc
)

// Roles of the two halves.
const (
	RoleRequests  = "requests"  // on the upstream stream
	RoleResponses = "responses" // on the downstream stream
)

func init() {
	tptoxics.Register(TypeError, new(ErrorToxic))
	tptoxics.Register(TypeLatency, new(LatencyToxic))
	tptoxics.Register(TypeReset, new(ResetToxic))
	tptoxics.Register(TypeArm, new(ArmToxic))
}

// ArmToxic arms the pair it names when it is added; it passes bytes on untouched, and is
// removed right after.
type ArmToxic struct {
	Pair string `json:"pair"`
}

// UnmarshalJSON arms the pair while Toxiproxy holds the proxy's lock (see the package doc).
func (t *ArmToxic) UnmarshalJSON(b []byte) error {
	var a struct {
		Pair string `json:"pair"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return fmt.Errorf("%s: attributes: %w", TypeArm, err)
	}
	groups.Lock()
	g := groups.m[a.Pair].Value()
	groups.Unlock()
	if g == nil {
		return fmt.Errorf("%s: no pair %q", TypeArm, a.Pair)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !(g.roles[RoleRequests] && g.roles[RoleResponses]) {
		return fmt.Errorf("%s: pair %q: add both halves before arming", TypeArm, a.Pair)
	}
	g.armed = true
	t.Pair = a.Pair
	return nil
}

// Pipe passes bytes on.
func (t *ArmToxic) Pipe(stub *tptoxics.ToxicStub) { new(tptoxics.NoopToxic).Pipe(stub) }

// Attrs are a toxic's attributes in the Toxiproxy API.
type Attrs struct {
	Role   string  `json:"role"`
	Pair   string  `json:"pair,omitempty"`
	Seed   int64   `json:"seed"`
	Share  float64 `json:"share"`
	Method string  `json:"method,omitempty"`
	Path   string  `json:"path,omitempty"` // prefix of the request path
	// ByPath picks by the request's path instead of its order: a path is always picked or
	// never (a poison key), and share is the share of distinct paths picked — exactly, in the
	// order the toxic first sees them (pathPicker).
	ByPath bool `json:"by_path,omitempty"`
	// http_error
	Status     int    `json:"status,omitempty"`
	Body       string `json:"body,omitempty"`
	RetryAfter int64  `json:"retry_after,omitempty"` // seconds; 0 = no Retry-After header
	// http_latency, in milliseconds
	Latency int64 `json:"latency,omitempty"`
	Jitter  int64 `json:"jitter,omitempty"`
}

// Counters say what a toxic did; the API shows them under "counters".
type Counters struct {
	Requests   int64 `json:"requests"`   // request heads parsed
	Matched    int64 `json:"matched"`    // of those, matching method and path
	Affected   int64 `json:"affected"`   // of those, failed, delayed or cut
	Unfollowed int64 `json:"unfollowed"` // requests on connections open before the toxic (forwarded as they are)
	Recycled   int64 `json:"recycled"`   // such connections told to close after their next response
	// Passthrough counts connections whose bytes stopped being parsed (not HTTP/1.x, an
	// upgrade, bad framing), PassthroughBytes the bytes passed on untouched after that.
	Passthrough      int64 `json:"passthrough_connections"`
	PassthroughBytes int64 `json:"passthrough_bytes"`
	// Paths and PathsPicked are a by_path toxic's distinct paths seen and, of those, picked.
	Paths       int64 `json:"paths,omitempty"`
	PathsPicked int64 `json:"paths_picked,omitempty"`
}

type kind uint8

const (
	kindError kind = iota + 1
	kindLatency
	kindReset
)

func (k kind) String() string {
	return [...]string{"", TypeError, TypeLatency, TypeReset}[k]
}

// ErrorToxic answers a share of requests with an HTTP error of its own; the upstream never
// sees them.
type ErrorToxic struct{ engine }

// LatencyToxic holds a share of requests for Latency ± Jitter before forwarding them.
type LatencyToxic struct{ engine }

// ResetToxic forwards a share of requests and cuts their responses short, closing the
// connection mid-response.
type ResetToxic struct{ engine }

func (t *ErrorToxic) UnmarshalJSON(b []byte) error   { return t.decode(kindError, b) }
func (t *LatencyToxic) UnmarshalJSON(b []byte) error { return t.decode(kindLatency, b) }
func (t *ResetToxic) UnmarshalJSON(b []byte) error   { return t.decode(kindReset, b) }

// engine is what the three toxics share; its configuration is set once, when Toxiproxy
// decodes the attributes of a new toxic, and never changed after (an update may only arm).
type engine struct {
	kind kind
	a    Attrs
	g    *group
}

type counters struct {
	requests, matched, affected, unfollowed, recycled, passthrough, passthroughBytes atomic.Int64
}

func (c *counters) snapshot() Counters {
	return Counters{Requests: c.requests.Load(), Matched: c.matched.Load(), Affected: c.affected.Load(),
		Unfollowed: c.unfollowed.Load(), Recycled: c.recycled.Load(), Passthrough: c.passthrough.Load(),
		PassthroughBytes: c.passthroughBytes.Load()}
}

func (g *group) counters() Counters {
	c := g.c.snapshot()
	c.Paths, c.PathsPicked = g.paths.seen()
	return c
}

// group is what the two halves of one fault share: the sequence of choices, the counters
// and the hand-over of each new connection's pair.
type group struct {
	seq   atomic.Uint64
	c     counters
	paths pathPicker

	mu    sync.Mutex
	armed bool
	roles map[string]bool
	last  *pair // left by the requests half's NewState for the responses half's
}

// groups finds a pair's group by name. It holds them weakly: the toxics hold their group,
// and once both are removed and collected the name may be used again.
var groups = struct {
	sync.Mutex
	m map[string]weak.Pointer[group]
}{m: map[string]weak.Pointer[group]{}}

// MarshalJSON shows the attributes and the counters.
func (e *engine) MarshalJSON() ([]byte, error) {
	if e.g == nil {
		return []byte("{}"), nil
	}
	e.g.mu.Lock()
	armed := e.g.armed
	e.g.mu.Unlock()
	return json.Marshal(struct {
		Attrs
		Armed    bool     `json:"armed,omitempty"`
		Counters Counters `json:"counters"`
	}{e.a, armed, e.g.counters()})
}

// decode is Toxiproxy's way in: it decodes the attributes of a new toxic, validated, so the
// API refuses bad ones with 400. An update is refused: Pipe reads the attributes unlocked.
func (e *engine) decode(k kind, b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if e.g != nil {
		return fmt.Errorf("%s: an http toxic cannot be changed in place: remove it and add a new one", k)
	}
	var a Attrs
	if err := dec.Decode(&a); err != nil {
		return fmt.Errorf("%s: attributes: %w", k, err)
	}
	if err := a.Validate(k.String()); err != nil {
		return err
	}
	e.kind, e.a = k, a
	if k == kindLatency {
		e.g = &group{}
		return nil
	}
	groups.Lock()
	for name, wp := range groups.m {
		if wp.Value() == nil {
			delete(groups.m, name)
		}
	}
	g := groups.m[a.Pair].Value()
	if g == nil {
		g = &group{roles: map[string]bool{}}
		groups.m[a.Pair] = weak.Make(g)
	}
	groups.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.roles[a.Role] {
		return fmt.Errorf("%s: pair %q already has its %s half", k, a.Pair, a.Role)
	}
	g.roles[a.Role] = true
	e.g = g
	return nil
}

// Validate checks attributes for toxic type typ.
func (a Attrs) Validate(typ string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !(a.Share >= 0 && a.Share <= 1) {
		bad("share %v: want a share of requests in [0, 1]", a.Share)
	}
	if a.Method != "" && !isToken(a.Method) {
		bad("method %q: want an HTTP method such as GET", a.Method)
	}
	if a.Path != "" && a.Path[0] != '/' {
		bad("path %q: want a path prefix starting with /", a.Path)
	}
	switch typ {
	case TypeError, TypeReset:
		if a.Role != RoleRequests && a.Role != RoleResponses {
			bad("role %q: want %s (upstream stream) or %s (downstream stream)", a.Role, RoleRequests, RoleResponses)
		}
		if a.Pair == "" {
			bad("pair: want the name both halves of the fault share")
		}
	case TypeLatency:
		if a.Role != RoleRequests {
			bad("role %q: http_latency acts on requests only (role %s, upstream stream)", a.Role, RoleRequests)
		}
	default:
		return fmt.Errorf("httptoxic: unknown type %q", typ)
	}
	if typ == TypeError {
		if a.Status < 200 || a.Status > 599 {
			bad("status %d: want a final HTTP status in 200..599", a.Status)
		}
		if a.RetryAfter < 0 {
			bad("retry_after %d: want seconds >= 0", a.RetryAfter)
		}
	} else if a.Status != 0 || a.Body != "" || a.RetryAfter != 0 {
		bad("status, body and retry_after belong to http_error")
	}
	if typ == TypeLatency {
		if a.Latency <= 0 {
			bad("latency %d: want milliseconds > 0", a.Latency)
		}
		if a.Jitter < 0 || a.Jitter > a.Latency {
			bad("jitter %d: want milliseconds between 0 and latency", a.Jitter)
		}
	} else if a.Latency != 0 || a.Jitter != 0 {
		bad("latency and jitter belong to http_latency")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", typ, errors.Join(errs...))
	}
	return nil
}

// Chosen says whether the n-th matching request (from 0) of a toxic seeded with seed is
// affected: a Bernoulli trial with probability share, drawn from a counter-based generator,
// so the pattern depends on nothing but the seed and the order of requests.
func Chosen(seed int64, n uint64, share float64) bool {
	return unit(seed, n, 0) < share
}

// ChosenPath says whether requests for path are affected by a toxic seeded with seed that picks
// by path: the same answer for every request of that path, true for a share of distinct paths.
func ChosenPath(seed int64, path string, share float64) bool {
	h := fnv.New64a()
	h.Write([]byte(path))
	return unit(seed, h.Sum64(), 2) < share
}

// unit maps (seed, n, stream) to a uniform float in [0, 1) with splitmix64.
func unit(seed int64, n uint64, stream uint64) float64 {
	x := uint64(seed) ^ (n * 0x9e3779b97f4a7c15) ^ (stream * 0xd1b54a32d192ed03)
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// delay is the n-th chosen request's latency: Latency ± Jitter, uniform.
func (e *engine) delay(n uint64) time.Duration {
	d := float64(e.a.Latency)
	if e.a.Jitter > 0 {
		d += (2*unit(e.a.Seed, n, 1) - 1) * float64(e.a.Jitter)
	}
	return time.Duration(math.Round(d * float64(time.Millisecond)))
}

// answer is http_error's response: well formed, with its own Content-Length so the
// keep-alive stream stays in step, and Connection: close when the request asked for it.
func (e *engine) answer(closeConn bool) []byte {
	var b bytes.Buffer
	text := http.StatusText(e.a.Status)
	if text == "" {
		text = "Status"
	}
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", e.a.Status, text)
	fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n", len(e.a.Body))
	if e.a.RetryAfter > 0 {
		fmt.Fprintf(&b, "Retry-After: %d\r\n", e.a.RetryAfter)
	}
	b.WriteString("X-Faultline-Fault: http_error\r\n")
	if closeConn {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(e.a.Body)
	return b.Bytes()
}

func (e *engine) matches(h head) bool {
	if e.a.Method != "" && h.method != e.a.Method {
		return false
	}
	return e.a.Path == "" || hasPathPrefix(h.path(), e.a.Path)
}

// hasPathPrefix matches /api against /api and /api/x, not /apix.
func hasPathPrefix(p, prefix string) bool {
	if len(p) < len(prefix) || p[:len(prefix)] != prefix {
		return false
	}
	return len(p) == len(prefix) || prefix[len(prefix)-1] == '/' || p[len(prefix)] == '/'
}
