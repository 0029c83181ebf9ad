package resilience

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/telemetry"
)

func TestAdaptiveFixtureValues(t *testing.T) {
	p, err := Load("testdata/adaptive.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := p.Edge("redirect->link")
	al := e.AdaptiveLimiter
	if al == nil || al.MinLimit != 4 || al.MaxLimit != 64 || al.InitialLimit != 16 || al.Queueing.MaxRejectionFactor != 2 ||
		al.MaxWaitTime.D() != 20*time.Millisecond || al.Priority != "high" || al.RecentWindow.MinSamples != 20 {
		t.Errorf("adaptive_limiter = %+v", al)
	}
	if e.Hedge.Delay.D() != 30*time.Millisecond || e.Hedge.Hedges() != 2 || e.Budget.MaxRate != 0.1 ||
		e.AdaptiveThrottler.ExecutionThreshold != 20 || e.AdaptiveThrottler.ThresholdingPeriod.D() != 5*time.Second {
		t.Errorf("edge = %+v", e)
	}
	if r := p.Route("create"); r.AdaptiveLimiter == nil || r.AdaptiveLimiter.Priority != "low" {
		t.Errorf("route create = %+v", r)
	}
	// The whole fixture builds without panicking (failsafe-go's builders assert their inputs).
	tel := newTelemetry(t)
	NewHTTP("redirect->link", e, tel, nil)
	Guard("create", p.Route("create"), tel, nil)
}

func TestAdaptiveLimitsDefaults(t *testing.T) {
	for _, c := range []struct {
		in               AdaptiveLimiter
		minL, maxL, init uint
	}{
		{AdaptiveLimiter{}, 1, 200, 20},
		{AdaptiveLimiter{MaxLimit: 10}, 1, 10, 10},
		{AdaptiveLimiter{MinLimit: 300}, 300, 300, 300},
		{AdaptiveLimiter{MinLimit: 2, MaxLimit: 8, InitialLimit: 4}, 2, 8, 4},
	} {
		if a, b, i := c.in.Limits(); a != c.minL || b != c.maxL || i != c.init {
			t.Errorf("%+v: limits %d %d %d, want %d %d %d", c.in, a, b, i, c.minL, c.maxL, c.init)
		}
	}
}

// blockingServer holds every request until release is closed.
func blockingServer(t *testing.T) (srv *httptest.Server, entered chan struct{}, release func()) {
	ch := make(chan struct{})
	entered = make(chan struct{}, 16)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-ch:
		case <-r.Context().Done():
		}
	}))
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(func() { release(); srv.Close() })
	return srv, entered, release
}

func TestAdaptiveLimiterRefusesOverItsLimit(t *testing.T) {
	tel := newTelemetry(t)
	rec := tracetest.NewSpanRecorder()
	tel.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("t")
	srv, entered, release := blockingServer(t)
	p := NewHTTP("a->b", EdgePolicy{AdaptiveLimiter: &AdaptiveLimiter{MinLimit: 2, MaxLimit: 2, InitialLimit: 2}, Retry: &Retry{MaxRetries: 2}}, tel, nil)
	c := httpx.NewClient(tel, "a->b", "b", 5*time.Second)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = status(call(p, c, srv.URL)) }()
	}
	<-entered
	<-entered
	_, err := call(p, c, srv.URL)
	release()
	wg.Wait()
	if !errors.Is(err, ErrLimited) || StatusFor(err) != http.StatusServiceUnavailable || !Shed(err) || CodeFor(err) != "limit_exceeded" {
		t.Fatalf("err = %v, want ErrLimited, 503, shed, limit_exceeded", err)
	}
	if n := value(tel.Metrics.LimiterRejections.WithLabelValues("a->b")); n != 1 {
		t.Errorf("rejections = %v, want 1 (a refusal is not retried)", n)
	}
	if n := value(tel.Metrics.LimiterLimit.WithLabelValues("a->b")); n != 2 {
		t.Errorf("limit gauge = %v, want 2", n)
	}
	var admitted, rejected int
	for _, s := range rec.Ended() {
		if s.Name() != "resilience a->b" {
			continue
		}
		a := spanAttrs(s)
		if a[telemetry.AttrLimiterRejected].AsBool() {
			rejected++
			continue
		}
		if in, lim := a[telemetry.AttrLimiterInFlight].AsInt64(), a[telemetry.AttrLimiterLimit].AsInt64(); in < 1 || in > 2 || lim != 2 {
			t.Errorf("admitted call: in_flight %d limit %d, want 1..2 and 2", in, lim)
		}
		admitted++
	}
	if admitted != 2 || rejected != 1 {
		t.Errorf("spans: %d admitted, %d rejected, want 2 and 1", admitted, rejected)
	}
}

func TestAdaptiveLimiterQueuesUpToMaxWait(t *testing.T) {
	tel := newTelemetry(t)
	srv, entered, release := blockingServer(t)
	p := NewHTTP("a->b", EdgePolicy{AdaptiveLimiter: &AdaptiveLimiter{MinLimit: 1, MaxLimit: 1, InitialLimit: 1,
		Queueing: &Queueing{InitialRejectionFactor: 2, MaxRejectionFactor: 3}, MaxWaitTime: Duration(80 * time.Millisecond)}}, tel, nil)
	c := httpx.NewClient(tel, "a->b", "b", 5*time.Second)
	go func() { _, _ = status(call(p, c, srv.URL)) }()
	<-entered
	start := time.Now()
	_, err := call(p, c, srv.URL)
	waited := time.Since(start)
	release()
	if !errors.Is(err, ErrLimited) {
		t.Fatalf("err = %v, want ErrLimited after the wait", err)
	}
	if waited < 70*time.Millisecond || waited > time.Second {
		t.Errorf("queued call waited %v, want about max_wait_time 80ms", waited)
	}
}

func TestHedgeBeatsASlowFirstAttempt(t *testing.T) {
	tel := newTelemetry(t)
	rec := tracetest.NewSpanRecorder()
	tel.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("t")
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 { // the first attempt is the slow tail
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	p := NewHTTP("a->b", EdgePolicy{Hedge: &Hedge{Delay: Duration(30 * time.Millisecond), MaxHedges: 1}}, tel, nil)
	c := httpx.NewClient(tel, "a->b", "b", 5*time.Second)
	start := time.Now()
	code, err := status(call(p, c, srv.URL))
	took := time.Since(start)
	if err != nil || code != 200 {
		t.Fatalf("code %d err %v", code, err)
	}
	if took > time.Second {
		t.Errorf("hedged call took %v: the hedge did not answer for the slow first attempt", took)
	}
	if v := value(tel.Metrics.Hedges.WithLabelValues("a->b")); v != 1 {
		t.Errorf("hedges metric = %v, want 1", v)
	}
	found := false
	for _, s := range rec.Ended() {
		if s.Name() == "resilience a->b" {
			found = true
			if h := spanAttrs(s)[telemetry.AttrHedges].AsInt64(); h != 1 {
				t.Errorf("span hedges = %d, want 1", h)
			}
			events := 0
			for _, ev := range s.Events() {
				if ev.Name == telemetry.EventHedge {
					events++
				}
			}
			if events != 1 {
				t.Errorf("hedge events = %d, want 1", events)
			}
		}
	}
	if !found {
		t.Fatal("no pipeline span")
	}
}

func TestHedgeNotSentForAFastCall(t *testing.T) {
	tel := newTelemetry(t)
	up := newUpstream(t, http.StatusOK)
	p := NewHTTP("a->b", EdgePolicy{Hedge: &Hedge{Delay: Duration(200 * time.Millisecond)}}, tel, nil)
	c := httpx.NewClient(tel, "a->b", "b", time.Second)
	for range 5 {
		if code, err := status(call(p, c, up.URL)); err != nil || code != 200 {
			t.Fatalf("code %d err %v", code, err)
		}
	}
	if v := value(tel.Metrics.Hedges.WithLabelValues("a->b")); v != 0 || up.hits.Load() != 5 {
		t.Errorf("hedges = %v, hits = %d, want 0 and 5", v, up.hits.Load())
	}
}

func TestBudgetCapsConcurrentRetries(t *testing.T) {
	tel := newTelemetry(t)
	// Ten calls fail at once and wait their backoff together: a budget of 1 % of calls in
	// flight, at least one, lets about one retry run at a time and refuses the rest.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	p := NewHTTP("a->b", EdgePolicy{Retry: &Retry{MaxRetries: 3, Backoff: Duration(30 * time.Millisecond)},
		Budget: &Budget{MaxRate: 0.01, MinConcurrency: 1}}, tel, nil)
	c := httpx.NewClient(tel, "a->b", "b", time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := call(p, c, srv.URL)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if errors.Is(err, ErrBudget) {
			refused++
		}
	}
	ex := value(tel.Metrics.BudgetExceeded.WithLabelValues("a->b", "retry"))
	if refused == 0 || ex == 0 {
		t.Fatalf("%d calls ended by the budget, %v refusals counted: want the budget to refuse overlapping retries", refused, ex)
	}
	retries := value(tel.Metrics.Retries.WithLabelValues("a->b"))
	if retries >= 30 {
		t.Errorf("retries = %v: the budget let every call retry 3 times", retries)
	}
	if left := value(tel.Metrics.BudgetLeft.WithLabelValues("a->b")); left < 0 || left > 0.01 {
		t.Errorf("budget left = %v, want within [0, max_rate]", left)
	}
}

func TestThrottlerRejectsAfterFailures(t *testing.T) {
	tel := newTelemetry(t)
	up := newUpstream(t, http.StatusInternalServerError)
	p := NewHTTP("a->b", EdgePolicy{AdaptiveThrottler: &AdaptiveThrottler{FailureRateThreshold: 0.1, ExecutionThreshold: 10,
		ThresholdingPeriod: Duration(time.Minute), MaxRejectionRate: 1}}, tel, nil)
	c := httpx.NewClient(tel, "a->b", "b", time.Second)
	throttled := 0
	for range 200 {
		_, err := call(p, c, up.URL)
		if errors.Is(err, ErrThrottled) {
			throttled++
			if StatusFor(err) != http.StatusServiceUnavailable || Shed(err) {
				t.Fatalf("throttled: status %d shed %v, want 503 and not shed (the callee is failing)", StatusFor(err), Shed(err))
			}
		}
	}
	if throttled < 50 || up.hits.Load() > 150 {
		t.Fatalf("throttled %d of 200, upstream saw %d: want most calls kept off a failing callee", throttled, up.hits.Load())
	}
	if v := value(tel.Metrics.ThrottlerRejects.WithLabelValues("a->b")); int(v) != throttled {
		t.Errorf("throttler rejections metric = %v, want %d", v, throttled)
	}
	if r := value(tel.Metrics.ThrottlerRate.WithLabelValues("a->b")); r <= 0.5 {
		t.Errorf("rejection rate gauge = %v, want high with every call failing", r)
	}
}

func TestGuardAdaptiveLimiter(t *testing.T) {
	tel := newTelemetry(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := Guard("create", RoutePolicy{AdaptiveLimiter: &AdaptiveLimiter{MinLimit: 1, MaxLimit: 1, InitialLimit: 1, Priority: "low"}}, tel, nil)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
		}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.Get(srv.URL); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	resp, err := http.Get(srv.URL)
	close(release)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(ShedHeader) != "limit_exceeded" {
		t.Fatalf("status %d shed %q, want 503 limit_exceeded", resp.StatusCode, resp.Header.Get(ShedHeader))
	}
	if v := value(tel.Metrics.LimiterRejections.WithLabelValues("client->gateway:create")); v != 1 {
		t.Errorf("route limiter rejections = %v, want 1", v)
	}
}

// Each adaptive mutant is adaptive minus exactly one kind of protection, and hedged is adaptive
// plus exactly one hedge: a kill (or a tournament row) then names one policy.
func TestAdaptiveVariantsDifferByOnePolicy(t *testing.T) {
	base := mustLoad(t, "adaptive")
	strip := map[string]func(*Profile){
		"no-adaptive-limiter": func(p *Profile) {
			for n, e := range p.Edges {
				e.AdaptiveLimiter = nil
				p.Edges[n] = e
			}
			for n, r := range p.Routes {
				r.AdaptiveLimiter = nil
				p.Routes[n] = r
			}
		},
		"no-throttler": func(p *Profile) {
			for n, e := range p.Edges {
				e.AdaptiveThrottler = nil
				p.Edges[n] = e
			}
		},
		"no-budget": func(p *Profile) {
			for n, e := range p.Edges {
				e.Budget = nil
				p.Edges[n] = e
			}
		},
		"hedged": func(p *Profile) {
			for n, e := range p.Edges {
				e.Hedge = nil
				p.Edges[n] = e
			}
		},
	}
	for name, f := range strip {
		m, b := mustLoad(t, name), mustLoad(t, "adaptive")
		if name == "hedged" {
			f(m) // hedged minus its hedge is adaptive
		} else {
			f(b) // adaptive minus the protection is the mutant
		}
		if !reflect.DeepEqual(b.Edges, m.Edges) || !reflect.DeepEqual(b.Routes, m.Routes) || b.Events != m.Events || b.Limits != m.Limits {
			t.Errorf("%s is not adaptive with exactly one kind of protection changed", name)
		}
	}
	// And the protections are really there in adaptive.
	n := map[string]int{}
	for _, e := range base.Edges {
		if e.AdaptiveLimiter != nil {
			n["limiter"]++
		}
		if e.Bulkhead != nil {
			n["bulkhead"]++
		}
		if e.AdaptiveThrottler != nil {
			n["throttler"]++
		}
		if e.Budget != nil {
			n["budget"]++
		}
	}
	for _, r := range base.Routes {
		if r.RateLimit > 0 || r.MaxConcurrent > 0 || r.AdaptiveLimiter == nil {
			n["static route"]++
		}
	}
	if n["limiter"] != 8 || n["bulkhead"] != 0 || n["throttler"] != 2 || n["budget"] != 4 || n["static route"] != 0 {
		t.Errorf("adaptive has %v, want 8 limiters, no bulkhead, 2 throttlers (calls to link), 4 budgets (edges that retry), no static route limit", n)
	}
	if base.Edge("gateway->link").AdaptiveThrottler == nil || base.Edge("redirect->link").AdaptiveThrottler == nil {
		t.Error("adaptive: the throttlers belong on the calls to link")
	}
}
