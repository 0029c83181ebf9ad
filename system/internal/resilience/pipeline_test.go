package resilience

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/telemetry"
)

func newTelemetry(t *testing.T) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.Setup(context.Background(), "test", func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tel
}

// upstream is a test server whose answer the test switches; it counts hits.
type upstream struct {
	*httptest.Server
	status atomic.Int32
	delay  atomic.Int64
	hits   atomic.Int32
}

func newUpstream(t *testing.T, status int) *upstream {
	u := &upstream{}
	u.status.Store(int32(status))
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		if d := time.Duration(u.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(int(u.status.Load()))
	}))
	t.Cleanup(u.Close)
	return u
}

func call(p *HTTPPipeline, c *http.Client, url string) (*http.Response, error) {
	return p.Do(context.Background(), func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		return c.Do(req)
	}, nil)
}

func status(resp *http.Response, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	tel := newTelemetry(t)
	up := newUpstream(t, http.StatusServiceUnavailable)
	p := NewHTTP("a->b", EdgePolicy{CircuitBreaker: &Breaker{FailureRatio: 0.5, Window: 4, Delay: Duration(150 * time.Millisecond), SuccessThreshold: 2}}, tel, nil)
	c := httpx.NewClient(tel, "a->b", "b", time.Second)
	// ratio 0.5 of a window of 4: the second failure among the last 4 calls opens it.
	for i := range 2 {
		if p.State() != "closed" {
			t.Fatalf("state = %s after %d failures, want closed", p.State(), i)
		}
		if code, err := status(call(p, c, up.URL)); err != nil || code != 503 {
			t.Fatalf("got %d %v, want the upstream's 503", code, err)
		}
	}
	if p.State() != "open" {
		t.Fatalf("state = %s after 2 of 4 failed, want open", p.State())
	}
	hits := up.hits.Load()
	_, err := call(p, c, up.URL)
	if !errors.Is(err, ErrOpen) || StatusFor(err) != http.StatusServiceUnavailable {
		t.Fatalf("open breaker: err = %v (status %d), want ErrOpen/503", err, StatusFor(err))
	}
	if up.hits.Load() != hits {
		t.Fatal("open breaker still called the upstream")
	}
	up.status.Store(http.StatusOK)
	time.Sleep(200 * time.Millisecond) // past the delay: half-open on the next call
	for i := range 2 {
		if code, err := status(call(p, c, up.URL)); err != nil || code != 200 {
			t.Fatalf("trial %d: %d %v", i, code, err)
		}
	}
	if p.State() != "closed" {
		t.Fatalf("state = %s after recovery, want closed", p.State())
	}
	m := tel.Metrics
	for _, tr := range [][2]string{{"closed", "open"}, {"open", "half-open"}, {"half-open", "closed"}} {
		if n := value(m.BreakerTransitions.WithLabelValues("a->b", tr[0], tr[1])); n != 1 {
			t.Errorf("transition %s->%s counted %v, want 1", tr[0], tr[1], n)
		}
	}
	if g := value(m.BreakerState.WithLabelValues("a->b")); g != telemetry.BreakerClosed {
		t.Errorf("state gauge = %v, want closed", g)
	}
}

// A callee shedding load on purpose (X-Load-Shed) is a failure for the caller but neither
// opens the caller's breaker nor is retried; the same 503 without the mark does both.
func TestShedAnswerNeitherTripsNorRetries(t *testing.T) {
	for _, shed := range []bool{true, false} {
		t.Run(map[bool]string{true: "shed", false: "unmarked 503"}[shed], func(t *testing.T) {
			tel := newTelemetry(t)
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if shed {
					w.Header().Set(ShedHeader, "bulkhead_full")
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			p := NewHTTP("a->b", EdgePolicy{
				Retry:          &Retry{MaxRetries: 2, Backoff: Duration(time.Millisecond), MaxBackoff: Duration(2 * time.Millisecond)},
				CircuitBreaker: &Breaker{FailureRatio: 0.5, Window: 4, Delay: Duration(time.Minute), SuccessThreshold: 1},
			}, tel, nil)
			c := httpx.NewClient(tel, "a->b", "b", time.Second)
			for range 4 {
				code, err := status(call(p, c, srv.URL))
				if err != nil && !errors.Is(err, ErrOpen) {
					t.Fatal(err)
				}
				if err == nil && code != http.StatusServiceUnavailable {
					t.Fatalf("got %d, want the callee's 503", code)
				}
			}
			retries := value(tel.Metrics.Retries.WithLabelValues("a->b"))
			if shed && (p.State() != "closed" || hits.Load() != 4 || retries != 0) {
				t.Errorf("shed answers: breaker %s, %d hits, %v retries; want closed, 4, 0", p.State(), hits.Load(), retries)
			}
			if !shed && (p.State() != "open" || retries == 0) {
				t.Errorf("unmarked 503s: breaker %s, %v retries; want open and retried", p.State(), retries)
			}
		})
	}
}

func TestRetryOnlyRetryable(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		wantHits int32
	}{
		{"503 retried", 503, 3},
		{"502 retried", 502, 3},
		{"504 retried", 504, 3},
		{"500 not retried", 500, 1},
		{"404 not retried", 404, 1},
		{"400 not retried", 400, 1},
		{"200 once", 200, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tel := newTelemetry(t)
			up := newUpstream(t, tc.status)
			p := NewHTTP("a->b", EdgePolicy{Retry: &Retry{MaxRetries: 2, Backoff: Duration(time.Millisecond), MaxBackoff: Duration(4 * time.Millisecond), Jitter: 0.5}}, tel, nil)
			code, err := status(call(p, httpx.NewClient(tel, "a->b", "b", time.Second), up.URL))
			if err != nil || code != tc.status {
				t.Fatalf("got %d %v, want %d", code, err, tc.status)
			}
			if h := up.hits.Load(); h != tc.wantHits {
				t.Fatalf("hits = %d, want %d", h, tc.wantHits)
			}
			if r := value(tel.Metrics.Retries.WithLabelValues("a->b")); r != float64(tc.wantHits-1) {
				t.Fatalf("retries metric = %v, want %d", r, tc.wantHits-1)
			}
		})
	}
}

// TestRetryWaitsItsBackoff: the wait between attempts is the profile's backoff (doubling up to
// max_backoff), moved by at most its jitter; a backoff configured but not applied to the
// policy (retries back to back) fails it.
func TestRetryWaitsItsBackoff(t *testing.T) {
	cases := []struct {
		name  string
		retry Retry
		want  []time.Duration // nominal wait before each retry
	}{
		{"fixed", Retry{MaxRetries: 2, Backoff: Duration(20 * time.Millisecond)}, []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}},
		{"exponential with jitter", Retry{MaxRetries: 2, Backoff: Duration(20 * time.Millisecond), MaxBackoff: Duration(40 * time.Millisecond), Jitter: 0.5},
			[]time.Duration{20 * time.Millisecond, 40 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tel := newTelemetry(t)
			var mu sync.Mutex
			var hits []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hits = append(hits, time.Now())
				mu.Unlock()
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			t.Cleanup(srv.Close)
			retry := tc.retry
			p := NewHTTP("a->b", EdgePolicy{Retry: &retry}, tel, nil)
			if code, err := status(call(p, httpx.NewClient(tel, "a->b", "b", time.Second), srv.URL)); err != nil || code != http.StatusServiceUnavailable {
				t.Fatalf("got %d %v, want 503 after the retries", code, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(hits) != len(tc.want)+1 {
				t.Fatalf("%d attempts, want %d", len(hits), len(tc.want)+1)
			}
			j := float64(tc.retry.Jitter)
			for i, d := range tc.want {
				gap := hits[i+1].Sub(hits[i])
				lo := time.Duration(float64(d)*(1-j)) - time.Millisecond
				hi := time.Duration(float64(d)*(1+j)) + 200*time.Millisecond // a busy machine is late, never early
				if gap < lo || gap > hi {
					t.Errorf("wait before retry %d: %v, want %v..%v (backoff %v, jitter %v)", i+1, gap, lo, hi, d, j)
				}
			}
		})
	}
}

func TestTimeoutRetriedThen504(t *testing.T) {
	tel := newTelemetry(t)
	up := newUpstream(t, 200)
	up.delay.Store(int64(300 * time.Millisecond))
	p := NewHTTP("a->b", EdgePolicy{Timeout: Duration(30 * time.Millisecond), Retry: &Retry{MaxRetries: 1}}, tel, nil)
	start := time.Now()
	_, err := call(p, httpx.NewClient(tel, "a->b", "b", time.Second), up.URL)
	// failsafe-go returns its ErrExceeded, or, when the cancelled attempt returns first, the
	// attempt's own context.DeadlineExceeded (1 run in ~60 here): both are the timeout, a 504.
	if !(errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded)) || StatusFor(err) != http.StatusGatewayTimeout {
		t.Fatalf("err = %v, want ErrTimeout/504", err)
	}
	if el := time.Since(start); el > 250*time.Millisecond {
		t.Fatalf("took %v, want about 2 x 30ms", el)
	}
	// failsafe-go calls OnTimeoutExceeded from the timer's goroutine, which may run just after
	// the call returned (CI saw 1 of 2 once): the count must reach 2, soon.
	deadline := time.Now().Add(time.Second)
	for value(tel.Metrics.Timeouts.WithLabelValues("a->b")) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := value(tel.Metrics.Timeouts.WithLabelValues("a->b")); n != 2 {
		t.Fatalf("timeouts = %v, want 2", n)
	}
}

func TestConnectionErrorRetried(t *testing.T) {
	tel := newTelemetry(t)
	up := newUpstream(t, 200)
	url := up.URL
	up.Close()
	p := NewHTTP("a->b", EdgePolicy{Retry: &Retry{MaxRetries: 2}}, tel, nil)
	_, err := call(p, httpx.NewClient(tel, "a->b", "b", time.Second), url)
	if err == nil || StatusFor(err) != http.StatusBadGateway {
		t.Fatalf("err = %v, want a connection error mapped to 502", err)
	}
	if r := value(tel.Metrics.Retries.WithLabelValues("a->b")); r != 2 {
		t.Fatalf("retries = %v, want 2", r)
	}
}

func TestBulkheadRejects(t *testing.T) {
	tel := newTelemetry(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	defer srv.Close()
	p := NewHTTP("a->b", EdgePolicy{Bulkhead: &Bulkhead{MaxConcurrent: 1}, Retry: &Retry{MaxRetries: 3}}, tel, nil)
	c := httpx.NewClient(tel, "a->b", "b", time.Second)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = status(call(p, c, srv.URL))
	}()
	<-entered
	_, err := call(p, c, srv.URL)
	close(release)
	wg.Wait()
	if !errors.Is(err, ErrFull) || StatusFor(err) != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want ErrFull/503", err)
	}
	if n := value(tel.Metrics.BulkheadRejections.WithLabelValues("a->b")); n != 1 {
		t.Fatalf("rejections = %v, want 1 (a full bulkhead is not retried)", n)
	}
}

func TestFallbackMarksSpanAndMetric(t *testing.T) {
	tel := newTelemetry(t)
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("t")
	tel.Tracer = tracer
	up := newUpstream(t, 503)
	c := httpx.NewClient(tel, "a->b", "b", time.Second)
	fb := func(ctx context.Context, err error) (*http.Response, error) {
		return &http.Response{StatusCode: 299, Body: http.NoBody}, nil
	}
	withFB := NewHTTP("a->b", EdgePolicy{Fallback: FallbackFailOpen, Retry: &Retry{MaxRetries: 1}}, tel, nil)
	ctx, span := tracer.Start(context.Background(), "caller")
	resp, err := withFB.Do(ctx, func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.URL, nil)
		return c.Do(req)
	}, fb)
	span.End()
	if err != nil || resp.StatusCode != 299 {
		t.Fatalf("got %v %v, want the fallback's answer", resp, err)
	}
	if n := value(tel.Metrics.Fallbacks.WithLabelValues("a->b", FallbackFailOpen)); n != 1 {
		t.Fatalf("fallbacks = %v, want 1", n)
	}
	// The pipeline records what it did on its own span about the edge, a child of the caller's.
	attrs := map[attribute.Key]attribute.Value{}
	for _, s := range rec.Ended() {
		if s.Name() == "resilience a->b" && s.Parent().SpanID() == span.SpanContext().SpanID() {
			for _, kv := range s.Attributes() {
				attrs[kv.Key] = kv.Value
			}
		}
	}
	if attrs[telemetry.AttrFallback].AsString() != FallbackFailOpen || attrs[telemetry.AttrRetries].AsInt64() != 1 || attrs[telemetry.AttrEdge].AsString() != "a->b" {
		t.Fatalf("pipeline span attributes = %v, want edge a->b, fallback and retries=1", attrs)
	}

	// No fallback kind in the profile: the failure comes through even with a fallback func.
	noFB := NewHTTP("a->c", EdgePolicy{}, tel, nil)
	resp, err = noFB.Do(context.Background(), func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.URL, nil)
		return c.Do(req)
	}, fb)
	if code, _ := status(resp, err); code != 503 {
		t.Fatalf("without fallback kind got %d, want 503", code)
	}
}

func TestStatusFor(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{ErrOpen, 503}, {ErrFull, 503}, {ErrTimeout, 504}, {context.DeadlineExceeded, 504},
		{ErrRateLimited, 429}, {errors.New("x"), 502}, {nil, 200},
	}
	for _, tc := range cases {
		if got := StatusFor(tc.err); got != tc.want {
			t.Errorf("StatusFor(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestGuard(t *testing.T) {
	tel := newTelemetry(t)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(200 * time.Millisecond):
			w.WriteHeader(200)
		case <-r.Context().Done():
		}
	})
	t.Run("timeout", func(t *testing.T) {
		h := Guard("r", RoutePolicy{Timeout: Duration(20 * time.Millisecond)}, tel, nil)(slow)
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
		if rr.Code != 504 || rr.Header().Get("Retry-After") == "" {
			t.Fatalf("code %d, want 504 with Retry-After", rr.Code)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
		h := Guard("rl", RoutePolicy{RateLimit: 10, RateLimitKind: RateBursty}, tel, nil)(ok)
		codes := map[int]int{}
		for range 5 {
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
			codes[rr.Code]++
		}
		if codes[204] != 1 || codes[429] != 4 {
			t.Fatalf("codes = %v, want one 204 (10/s in 100ms windows) and four 429", codes)
		}
		if n := value(tel.Metrics.RateLimited.WithLabelValues("rl")); n != 4 {
			t.Fatalf("rate limited = %v", n)
		}
	})
	t.Run("bulkhead", func(t *testing.T) {
		release := make(chan struct{})
		entered := make(chan struct{})
		block := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { close(entered); <-release })
		h := Guard("bh", RoutePolicy{MaxConcurrent: 1}, tel, nil)(block)
		done := make(chan struct{})
		go func() { defer close(done); h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)) }()
		<-entered
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
		close(release)
		<-done
		if rr.Code != 503 {
			t.Fatalf("code %d, want 503", rr.Code)
		}
	})
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func telemetryForBench() (*telemetry.Telemetry, error) {
	return telemetry.Setup(context.Background(), "bench", func(string) string { return "" }, nil)
}

// A body larger than the socket buffers must still be readable after Do returns, although the
// timeout policy cancels the attempt's context when the attempt ends (regression).
func TestDoBodyReadableAfterTimeoutPolicy(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, big)
	}))
	defer srv.Close()
	p := NewHTTP("redirect->link", EdgePolicy{Timeout: Duration(2 * time.Second)}, newTelemetry(t), nil)
	resp, err := p.Do(context.Background(), func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		return srv.Client().Do(req)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || len(got) != len(big) {
		t.Fatalf("read %d of %d bytes after Do: %v", len(got), len(big), err)
	}
}
