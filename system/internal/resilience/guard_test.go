package resilience

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goroutineID is the running goroutine's number, from its stack header.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return string(bytes.Fields(buf)[1])
}

// The route deadline is a context deadline: the handler runs in the request's own goroutine
// (it used to get one of its own per request, to race a timer).
func TestGuardDeadlineRunsTheHandlerInTheRequestGoroutine(t *testing.T) {
	tel := newTelemetry(t)
	var inHandler string
	var deadline bool
	h := Guard("r", RoutePolicy{Timeout: Duration(time.Second)}, tel, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inHandler = goroutineID()
		_, deadline = r.Context().Deadline()
		w.WriteHeader(http.StatusFound)
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	if got := goroutineID(); inHandler != got {
		t.Errorf("handler ran in goroutine %s, the request in %s", inHandler, got)
	}
	if !deadline {
		t.Error("the handler's context has no deadline")
	}
	if rr.Code != http.StatusFound {
		t.Errorf("code %d, want 302", rr.Code)
	}
}

func TestGuardDeadline(t *testing.T) {
	const limit = 30 * time.Millisecond
	for _, tc := range []struct {
		name       string
		handler    http.HandlerFunc
		cancelled  bool // the client left before the deadline
		wantCode   int
		wantHeader string // a header of the handler's answer that must (or, on 504, must not) be there
		wantBody   string
		timeouts   float64
	}{
		{name: "in time: the answer passes whole", wantCode: 302, wantHeader: "Location", wantBody: "moved", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "https://example.com/")
			w.WriteHeader(302)
			_, _ = w.Write([]byte("moved"))
		}},
		{name: "in time, no explicit status: 200", wantCode: 200, wantBody: "ok", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("ok"))
		}},
		{name: "returns at the deadline: 504", wantCode: 504, timeouts: 1, handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{name: "answers after the deadline: dropped, 504 without its headers", wantCode: 504, wantHeader: "Location", timeouts: 1,
			handler: func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(2 * limit) // ignores its context
				w.Header().Set("Location", "https://example.com/")
				w.WriteHeader(302)
				if n, err := w.Write([]byte("late")); n != 0 || err == nil {
					t.Errorf("late Write = %d, %v; want 0 and an error", n, err)
				}
			}},
		{name: "own 504 after the deadline becomes the guard's", wantCode: 504, timeouts: 1, handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			w.WriteHeader(504)
		}},
		{name: "client gone: no answer, no timeout counted", cancelled: true, wantCode: 200, handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel := newTelemetry(t)
			h := Guard("r", RoutePolicy{Timeout: Duration(limit)}, tel, nil)(tc.handler)
			req := httptest.NewRequest("GET", "/", nil)
			if tc.cancelled {
				ctx, cancel := context.WithCancel(req.Context())
				cancel()
				req = req.WithContext(ctx)
			}
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, req)
			if rr.Code != tc.wantCode {
				t.Errorf("code %d, want %d", rr.Code, tc.wantCode)
			}
			switch {
			case tc.wantCode == 504:
				if rr.Header().Get(tc.wantHeader) != "" && tc.wantHeader != "" {
					t.Errorf("504 carries the lost answer's %s", tc.wantHeader)
				}
				if rr.Header().Get("Retry-After") == "" || !strings.Contains(rr.Body.String(), `"code":"timeout"`) {
					t.Errorf("504 without Retry-After or code timeout: %v %s", rr.Header(), rr.Body)
				}
			case tc.wantHeader != "" && rr.Header().Get(tc.wantHeader) == "":
				t.Errorf("answer lost its %s header", tc.wantHeader)
			}
			if tc.wantBody != "" && rr.Body.String() != tc.wantBody {
				t.Errorf("body %q, want %q", rr.Body, tc.wantBody)
			}
			if got := value(tel.Metrics.Timeouts.WithLabelValues(GuardEdge)); got != tc.timeouts {
				t.Errorf("timeouts counted %v, want %v", got, tc.timeouts)
			}
		})
	}
}

func TestGuardDeadlinePanicReachesTheServer(t *testing.T) {
	tel := newTelemetry(t)
	h := Guard("r", RoutePolicy{Timeout: Duration(time.Second)}, tel, nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	defer func() {
		if p := recover(); p != "boom" {
			t.Errorf("recovered %v, want boom", p)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

// BenchmarkGuard is the route guard's own cost per request, with the default redirect route
// (rate limit, bulkhead, 1 s deadline) around a handler that answers 302 at once.
func BenchmarkGuard(b *testing.B) {
	tel, err := telemetryForBench()
	if err != nil {
		b.Fatal(err)
	}
	def, err := Load("default")
	if err != nil {
		b.Fatal(err)
	}
	p := def.Route("redirect")
	p.RateLimit = 0 // a benchmark loop would only measure 429s
	found := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://example.com/")
		w.WriteHeader(http.StatusFound)
	})
	for _, tc := range []struct {
		name string
		p    RoutePolicy
	}{{"none", RoutePolicy{}}, {"default-redirect-route", p}} {
		h := Guard("r", tc.p, tel, nil)(found)
		req := httptest.NewRequest("GET", "/r/abc", nil)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
			}
		})
	}
}
