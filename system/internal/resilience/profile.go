// Package resilience turns a resilience profile (YAML) into failsafe-go pipelines for outbound calls and guards for inbound routes.
package resilience

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/faultline/faultline/system/profiles"
	"github.com/faultline/faultline/system/topology"
)

// Fallback kinds a profile may name for an edge.
const (
	FallbackNone       = "none"
	FallbackFailOpen   = "fail_open"
	FallbackStaleCache = "stale_cache"
)

// Rate limiter kinds for routes.
const (
	RateSmooth = "smooth"
	RateBursty = "bursty"
)

// Profile is one resilience profile: pipelines per edge, guards per gateway route, event safety.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Edges       Edges  `yaml:"edges"`
	Routes      Routes `yaml:"routes"`
	Events      Events `yaml:"events"`
	Limits      Limits `yaml:"limits"`
	// Source is the file or built-in name the profile came from.
	Source string `yaml:"-"`
}

// EdgePolicy is the pipeline of one synchronous client edge. A zero value protects nothing.
type EdgePolicy struct {
	Timeout        Duration  `yaml:"timeout"` // per attempt; 0 = none
	Retry          *Retry    `yaml:"retry"`
	CircuitBreaker *Breaker  `yaml:"circuit_breaker"`
	Bulkhead       *Bulkhead `yaml:"bulkhead"`
	Fallback       Fallback  `yaml:"fallback"`
	// The adaptive policies (adaptive.go).
	AdaptiveLimiter   *AdaptiveLimiter   `yaml:"adaptive_limiter"`
	AdaptiveThrottler *AdaptiveThrottler `yaml:"adaptive_throttler"`
	Budget            *Budget            `yaml:"budget"`
	Hedge             *Hedge             `yaml:"hedge"`
}

// Retry retries retryable failures with exponential backoff and jitter.
type Retry struct {
	MaxRetries uint     `yaml:"max_retries"`
	Backoff    Duration `yaml:"backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	Jitter     Ratio    `yaml:"jitter"` // factor 0..1 of the delay
}

// Breaker opens when failure_ratio of the last window calls failed; after delay it lets
// success_threshold trial calls through (half-open) before closing.
type Breaker struct {
	FailureRatio     Ratio    `yaml:"failure_ratio"`
	Window           uint     `yaml:"window"`
	Delay            Duration `yaml:"delay"`
	SuccessThreshold uint     `yaml:"success_threshold"`
}

// Threshold is how many of the last window calls must fail to open the breaker: the ratio's
// share of the window, rounded up, at least 1.
func (b Breaker) Threshold() uint {
	return max(uint(math.Ceil(float64(b.FailureRatio)*float64(b.Window))), 1)
}

// Delay is the nominal wait before retry k (1 = the first retry), before jitter, as the
// pipeline's failsafe retry policy computes it: backoff, doubled at each further retry up to
// max_backoff (a fixed backoff when max_backoff is not above it). Jitter then moves it by up
// to ±jitter × delay.
func (r Retry) Delay(k int) time.Duration {
	d := r.Backoff.D()
	if mx := r.MaxBackoff.D(); mx > d {
		for i := 1; i < k && d < mx; i++ {
			d = min(2*d, mx)
		}
	}
	return d
}

// Bulkhead bounds concurrent calls; a call waits at most max_wait for a slot.
type Bulkhead struct {
	MaxConcurrent uint     `yaml:"max_concurrent"`
	MaxWait       Duration `yaml:"max_wait"`
}

// RoutePolicy protects one gateway route. Zero fields mean no limit.
type RoutePolicy struct {
	Timeout       Duration `yaml:"timeout"`
	MaxConcurrent uint     `yaml:"max_concurrent"`
	MaxWait       Duration `yaml:"max_wait"`
	RateLimit     uint     `yaml:"rate_limit"` // requests per second
	RateLimitKind RateKind `yaml:"rate_limit_kind"`
	// AdaptiveLimiter bounds the route's concurrency by a limit found from latency (in place
	// of max_concurrent; adaptive.go).
	AdaptiveLimiter *AdaptiveLimiter `yaml:"adaptive_limiter"`
}

// Limits are the bounds that sit outside the failsafe pipelines: every service's HTTP server
// deadlines, the connect timeout of outbound connections and the cache client's socket
// timeouts. A field left out means no bound (Go's and the libraries' no-timeout settings), so
// a profile that omits the block adds no timeout of its own. What every profile keeps anyway
// (connection pools, the event path's own timeouts) is listed in docs/contracts.md.
type Limits struct {
	Server         ServerLimits `yaml:"server"`
	ConnectTimeout Duration     `yaml:"connect_timeout"` // dialing an HTTP peer, PostgreSQL (Redis: go-redis's 5 s when 0)
	RedisTimeout   Duration     `yaml:"redis_timeout"`   // the cache client's reads, writes and wait for a pooled connection
}

// ServerLimits are the deadlines of every service's HTTP server (net/http's ReadHeaderTimeout,
// ReadTimeout, WriteTimeout). A read deadline also ends the request's context when it passes
// during the handler, so read_timeout bounds every inbound call.
type ServerLimits struct {
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
}

// Events says how the asynchronous side protects data.
type Events struct {
	Outbox bool `yaml:"outbox"`
	Dedup  bool `yaml:"dedup"`
}

// Edge returns the policy of edge ("redirect->link"); an edge the profile does not name gets
// no protection.
func (p *Profile) Edge(name string) EdgePolicy { return p.Edges[name] }

// Route returns the guard policy of a gateway route ("redirect", "create", "get", "stats").
func (p *Profile) Route(name string) RoutePolicy { return p.Routes[name] }

// Builtins lists the names of the embedded profiles.
func Builtins() []string {
	ents, _ := fs.ReadDir(profiles.FS, ".")
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

var builtinName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Load reads a built-in profile by name, or a YAML file by path. A malformed profile is an
// error "profile: FILE:LINE:COL: what was expected".
func Load(nameOrPath string) (*Profile, error) {
	if nameOrPath == "" {
		nameOrPath = "default"
	}
	var (
		data []byte
		err  error
		src  = nameOrPath
	)
	if builtinName.MatchString(nameOrPath) && !strings.Contains(nameOrPath, ".") {
		src = nameOrPath + ".yaml"
		data, err = fs.ReadFile(profiles.FS, src)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("profile: %q is neither a built-in (%s) nor a file path", nameOrPath, strings.Join(Builtins(), ", "))
		}
	} else {
		data, err = os.ReadFile(nameOrPath)
	}
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return Parse(src, data)
}

// Parse decodes and validates a profile; file names the source in errors.
func Parse(file string, data []byte) (*Profile, error) {
	raw := struct {
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
		Edges       Edges  `yaml:"edges"`
		Routes      Routes `yaml:"routes"`
		Limits      Limits `yaml:"limits"`
		Events      *struct {
			Outbox *bool `yaml:"outbox"`
			Dedup  *bool `yaml:"dedup"`
		} `yaml:"events"`
	}{}
	if err := yaml.UnmarshalWithOptions(data, &raw, yaml.DisallowUnknownField()); err != nil {
		return nil, positioned(file, err)
	}
	if strings.TrimSpace(string(data)) == "" {
		return nil, fmt.Errorf("profile: %s:1:1: empty file, want a mapping with name, edges, routes, events", file)
	}
	p := &Profile{Name: raw.Name, Description: raw.Description, Edges: raw.Edges, Routes: raw.Routes, Limits: raw.Limits, Source: file,
		Events: Events{Outbox: true, Dedup: true}}
	if p.Name == "" {
		return nil, fmt.Errorf("profile: %s:1:1: missing name, want name: <profile name>", file)
	}
	if raw.Events != nil {
		if raw.Events.Outbox != nil {
			p.Events.Outbox = *raw.Events.Outbox
		}
		if raw.Events.Dedup != nil {
			p.Events.Dedup = *raw.Events.Dedup
		}
	}
	return p, nil
}

// KnownEdges are the edges of the topology: a profile naming another one has a typo, which
// would otherwise silently leave the real edge unprotected.
var KnownEdges = topology.EdgeNames()

// KnownRoutes are the gateway routes a profile may guard.
var KnownRoutes = []string{"redirect", "create", "get", "stats"}

// Edges maps edge names to their policies.
type Edges map[string]EdgePolicy

// Routes maps gateway route names to their guards.
type Routes map[string]RoutePolicy

// UnmarshalYAML checks every key against KnownEdges, at the key's position.
func (e *Edges) UnmarshalYAML(n ast.Node) error {
	m, err := decodePolicies(n, KnownEdges, "edge", checkEdge)
	*e = m
	return err
}

// UnmarshalYAML checks every key against KnownRoutes, at the key's position.
func (r *Routes) UnmarshalYAML(n ast.Node) error {
	m, err := decodePolicies(n, KnownRoutes, "route", checkRoute)
	*r = m
	return err
}

// decodePolicies decodes a mapping of known names to policies of type P, each checked as a
// whole by check.
func decodePolicies[P any](n ast.Node, known []string, what string, check func(string, P, ast.Node) error) (map[string]P, error) {
	out := map[string]P{}
	err := decodeKeyed(n, known, what, func(key string, v ast.Node) error {
		var p P
		if err := decodeValue(v, &p); err != nil {
			return err
		}
		if err := check(key, p, v); err != nil {
			return err
		}
		out[key] = p
		return nil
	})
	return out, err
}

// decodeKeyed walks a mapping whose keys must be among known.
func decodeKeyed(n ast.Node, known []string, what string, each func(key string, v ast.Node) error) error {
	if _, ok := n.(*ast.NullNode); ok {
		return nil
	}
	var pairs []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		pairs = m.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{m}
	default:
		return nodeErr(n, "want a mapping of %s names to settings", what)
	}
	seen := map[string]bool{}
	for _, kv := range pairs {
		key := kv.Key.GetToken().Value
		if !slices.Contains(known, key) {
			return nodeErr(kv.Key, "unknown %s %q, want one of %s", what, key, strings.Join(known, ", "))
		}
		if seen[key] {
			return nodeErr(kv.Key, "%s %q given twice", what, key)
		}
		seen[key] = true
		if err := each(key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

func decodeValue(n ast.Node, v any) error {
	if _, ok := n.(*ast.NullNode); ok {
		return nil // "edge: " with nothing: no protection
	}
	return decodeNode(n, v)
}

// posError is a semantic error at a YAML node.
type posError struct {
	line, col int
	msg       string
}

func (e *posError) Error() string { return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg) }

func nodeErr(n ast.Node, format string, args ...any) error {
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return &posError{1, 1, fmt.Sprintf(format, args...)}
	}
	return &posError{tk.Position.Line, tk.Position.Column, fmt.Sprintf(format, args...)}
}

// positioned turns a decode error into "profile: FILE:LINE:COL: message".
func positioned(file string, err error) error {
	var pe *posError
	if errors.As(err, &pe) {
		return fmt.Errorf("profile: %s:%d:%d: %s", file, pe.line, pe.col, pe.msg)
	}
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Errorf("profile: %s:%d:%d: %s", file, tk.Position.Line, tk.Position.Column, explain(ye.GetMessage()))
		}
		return fmt.Errorf("profile: %s: %s", file, explain(ye.GetMessage()))
	}
	return fmt.Errorf("profile: %s: %w", file, err)
}

// explain adds what was expected to goccy's terse messages.
func explain(msg string) string {
	switch {
	case strings.HasPrefix(msg, "unknown field"):
		return msg + " (want one of the keys documented in docs/contracts.md: name, description, edges, routes, events, limits, timeout, retry, circuit_breaker, bulkhead, fallback, adaptive_limiter, adaptive_throttler, budget, hedge, ...)"
	case strings.Contains(msg, "cannot unmarshal"):
		return msg + " (wrong type)"
	}
	return msg
}

// Duration is a non-negative duration written like "200ms".
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (d *Duration) UnmarshalYAML(n ast.Node) error {
	s, ok := scalar(n)
	if !ok {
		return nodeErr(n, "want a duration like 200ms")
	}
	if s == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return nodeErr(n, "%q: want a duration like 200ms", s)
	}
	if v < 0 {
		return nodeErr(n, "%q: want a non-negative duration", s)
	}
	*d = Duration(v)
	return nil
}

// Ratio is a number in [0, 1].
type Ratio float64

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (r *Ratio) UnmarshalYAML(n ast.Node) error {
	s, ok := scalar(n)
	var v float64
	if ok {
		_, err := fmt.Sscanf(s, "%g", &v)
		ok = err == nil && !math.IsNaN(v) && fmt.Sprint(v) != "" && isNumber(s)
	}
	if !ok || v < 0 || v > 1 {
		return nodeErr(n, "%q: want a number between 0 and 1", s)
	}
	*r = Ratio(v)
	return nil
}

func isNumber(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789.eE+-", c) {
			return false
		}
	}
	return s != ""
}

// Fallback is an edge's fallback kind: none, fail_open or stale_cache.
type Fallback string

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (f *Fallback) UnmarshalYAML(n ast.Node) error {
	s, _ := scalar(n)
	switch s {
	case FallbackNone, "":
		*f = ""
	case FallbackFailOpen, FallbackStaleCache:
		*f = Fallback(s)
	default:
		return nodeErr(n, "fallback %q: want none, fail_open or stale_cache", s)
	}
	return nil
}

// RateKind is smooth or bursty.
type RateKind string

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (k *RateKind) UnmarshalYAML(n ast.Node) error {
	s, _ := scalar(n)
	switch s {
	case RateSmooth, RateBursty:
		*k = RateKind(s)
	default:
		return nodeErr(n, "rate_limit_kind %q: want smooth or bursty", s)
	}
	return nil
}

// UnmarshalYAML checks a retry block as a whole.
func (r *Retry) UnmarshalYAML(n ast.Node) error {
	type plain Retry
	var p plain
	if err := decodeNode(n, &p); err != nil {
		return err
	}
	if p.MaxBackoff != 0 && p.MaxBackoff < p.Backoff {
		return nodeErr(n, "retry: max_backoff %s below backoff %s: want max_backoff >= backoff", p.MaxBackoff.D(), p.Backoff.D())
	}
	*r = Retry(p)
	return nil
}

// UnmarshalYAML checks a circuit_breaker block as a whole.
func (b *Breaker) UnmarshalYAML(n ast.Node) error {
	type plain Breaker
	var p plain
	if err := decodeNode(n, &p); err != nil {
		return err
	}
	switch {
	case p.FailureRatio <= 0:
		return nodeErr(n, "circuit_breaker: failure_ratio: want a number above 0 and at most 1")
	case p.Window == 0:
		return nodeErr(n, "circuit_breaker: window: want a positive number of calls")
	case p.Delay == 0:
		return nodeErr(n, "circuit_breaker: delay: want a positive duration like 2s")
	}
	*b = Breaker(p)
	return nil
}

// UnmarshalYAML checks a bulkhead block as a whole.
func (b *Bulkhead) UnmarshalYAML(n ast.Node) error {
	type plain Bulkhead
	var p plain
	if err := decodeNode(n, &p); err != nil {
		return err
	}
	if p.MaxConcurrent == 0 {
		return nodeErr(n, "bulkhead: max_concurrent: want a positive number (omit the bulkhead for none)")
	}
	*b = Bulkhead(p)
	return nil
}

func decodeNode(n ast.Node, v any) error {
	if _, ok := n.(*ast.MappingNode); !ok {
		if _, ok := n.(*ast.MappingValueNode); !ok {
			return nodeErr(n, "want a mapping")
		}
	}
	return yaml.NodeToValue(n, v, yaml.DisallowUnknownField())
}

// scalar returns the text of a scalar node.
func scalar(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.IntegerNode, *ast.FloatNode:
		return v.GetToken().Value, true
	}
	return "", false
}
