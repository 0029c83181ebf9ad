package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/telemetry"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		URL string `json:"url"`
		N   int    `json:"n"`
	}
	cases := []struct {
		name, in, ctype string
		status          int
		msg             string
	}{
		{"ok", `{"url":"x","n":1}`, "application/json", 0, ""},
		{"ok no ctype", `{"url":"x"}`, "", 0, ""},
		{"unknown field", `{"url":"x","m":1}`, "", 400, `unknown field "m"`},
		{"trailing", `{"url":"x"}{"url":"y"}`, "", 400, "trailing data"},
		{"trailing garbage", `{"url":"x"} xx`, "", 400, "malformed JSON"},
		{"empty", ``, "", 400, "empty"},
		{"truncated", `{"url":`, "", 400, "truncated"},
		{"syntax", `{url}`, "", 400, "malformed JSON at byte"},
		{"type", `{"n":"one"}`, "", 400, `field "n"`},
		{"too large", `{"url":"` + strings.Repeat("a", 100) + `"}`, "", 413, "larger than 64 bytes"},
		{"form ctype still JSON-parsed", `{"url":"x"}`, "application/x-www-form-urlencoded", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.in))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			rr := httptest.NewRecorder()
			var b body
			err := DecodeJSON(rr, r, &b, 64)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Status != tc.status || !strings.Contains(de.Msg, tc.msg) {
				t.Fatalf("err = %#v, want status %d containing %q", err, tc.status, tc.msg)
			}
		})
	}
}

func newTel(t *testing.T) *telemetry.Telemetry {
	tel, err := telemetry.Setup(context.Background(), "t", func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tel
}

func TestInstrumentRecoversAndCounts(t *testing.T) {
	tel := newTel(t)
	h := Instrument(tel, "/boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("bad") }))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/boom", nil))
	var e ErrorBody
	if rr.Code != 500 || json.Unmarshal(rr.Body.Bytes(), &e) != nil || e.Code != "internal" {
		t.Fatalf("panic answered %d %q, want 500 JSON", rr.Code, rr.Body)
	}
	srv := httptest.NewServer(tel.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `http_server_requests_total{code="500",method="GET",route="/boom",service="t"} 1`
	if !strings.Contains(string(b), want) {
		t.Fatalf("metrics lack %s", want)
	}
}

func TestReadyHandler(t *testing.T) {
	h := ReadyHandler(map[string]func(context.Context) error{
		"db":   func(context.Context) error { return nil },
		"nats": func(context.Context) error { return errors.New("nats CLOSED") },
		"slow": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
	})
	start := time.Now()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/readyz", nil))
	if time.Since(start) > 2*CheckTimeout {
		t.Fatal("a hanging check held /readyz")
	}
	var body struct {
		Down map[string]string `json:"down"`
	}
	_ = json.Unmarshal(rr.Body.Bytes(), &body)
	if rr.Code != 503 || body.Down["nats"] == "" || body.Down["slow"] == "" || body.Down["db"] != "" {
		t.Fatalf("got %d %s", rr.Code, rr.Body)
	}
	rr = httptest.NewRecorder()
	ReadyHandler(nil).ServeHTTP(rr, httptest.NewRequest("GET", "/readyz", nil))
	if rr.Code != 200 {
		t.Fatalf("no checks: %d", rr.Code)
	}
}

// Serve drains an in-flight request before returning, and refuses new connections.
func TestServeDrains(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	to := ServerTimeouts{ReadHeader: 2 * time.Second, Read: 10 * time.Second, Write: 15 * time.Second}
	srv := NewServer(ln.Addr().String(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		time.Sleep(200 * time.Millisecond)
		WriteJSON(w, 200, map[string]bool{"done": true})
	}), to)
	if srv.ReadHeaderTimeout != to.ReadHeader || srv.ReadTimeout != to.Read || srv.WriteTimeout != to.Write || srv.MaxHeaderBytes != MaxHeaderBytes || srv.IdleTimeout == 0 {
		t.Fatalf("server limits not set: %+v", srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, srv, ln) }()
	respc := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			respc <- 0
			return
		}
		resp.Body.Close()
		respc <- resp.StatusCode
	}()
	<-entered
	cancel()
	if code := <-respc; code != 200 {
		t.Fatalf("in-flight request got %d, want 200 after drain", code)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// Slow request headers are cut at the profile's read_header_timeout, and only then: without
// one (profile none) the server waits, as net/http does by default.
func TestSlowHeaders(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for slow headers")
	}
	const slow = 1500 * time.Millisecond
	for _, c := range []struct {
		name   string
		to     ServerTimeouts
		served bool
	}{
		{"cut at read_header_timeout", ServerTimeouts{ReadHeader: 500 * time.Millisecond}, false},
		{"no timeout: served", ServerTimeouts{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ln, _ := Listen("127.0.0.1:0")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = Serve(ctx, NewServer("", http.NotFoundHandler(), c.to), ln) }()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
			time.Sleep(slow)
			_, _ = conn.Write([]byte("\r\n"))
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			b, _ := io.ReadAll(conn)
			served := strings.HasPrefix(string(b), "HTTP/1.1 404")
			if served != c.served {
				t.Fatalf("headers sent over %v: answer %q, want served=%v", slow, b, c.served)
			}
		})
	}
}

// Nothing in the client bounds a call but its context and the connect timeout: the
// per-attempt deadline is the profile's, and none means none.
func TestClientHasNoHiddenTimeout(t *testing.T) {
	c := NewClient(newTel(t), "a->b", "b", 0)
	if c.Timeout != 0 {
		t.Errorf("client Timeout %v, want none", c.Timeout)
	}
	tr := newTransport(0)
	if tr.ResponseHeaderTimeout != 0 || tr.TLSHandshakeTimeout != 0 {
		t.Errorf("transport bounds a call: response header %v, TLS handshake %v", tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout)
	}
}

func TestClientSpanAndMetrics(t *testing.T) {
	tel := newTel(t)
	var gotTraceparent string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotTraceparent = r.Header.Get("traceparent")
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c := NewClient(tel, "a->b", "b", time.Second)
	ctx, span := tel.Tracer.Start(context.Background(), "parent")
	req, _ := http.NewRequestWithContext(telemetry.WithAttempt(ctx, 2), "GET", srv.URL, nil)
	resp, err := c.Do(req)
	span.End()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(gotTraceparent, span.SpanContext().TraceID().String()) {
		t.Fatalf("traceparent %q does not carry trace %s", gotTraceparent, span.SpanContext().TraceID())
	}
	tr := c.Transport.(interface {
		RoundTrip(*http.Request) (*http.Response, error)
	})
	_ = tr
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"url":"x"}`, `{"url":"x"}{}`, `{`, ``, `{"n":1e999}`, `[]`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var v struct {
			URL string `json:"url"`
			N   int    `json:"n"`
		}
		rr := httptest.NewRecorder()
		err := DecodeJSON(rr, httptest.NewRequest("POST", "/", strings.NewReader(in)), &v, 256)
		if err == nil {
			return
		}
		var de *DecodeError
		if !errors.As(err, &de) || de.Status < 400 || de.Status > 499 || de.Msg == "" {
			t.Fatalf("DecodeJSON(%q) = %v: want a 4xx DecodeError", in, err)
		}
	})
}

// TestClientGone: a request whose client went away (its context cancelled) is told from one
// this service timed out itself, and answered 499, not a 5xx that would blame this service.
func TestClientGone(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/quota/a", nil)
	if ClientGone(r) {
		t.Fatal("a live request reads as gone")
	}
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	if !ClientGone(r.WithContext(ctx)) {
		t.Error("a cancelled request does not read as gone")
	}
	dctx, dcancel := context.WithTimeout(r.Context(), 0)
	defer dcancel()
	if ClientGone(r.WithContext(dctx)) {
		t.Error("this service's own deadline reads as the client gone")
	}
	w := httptest.NewRecorder()
	WriteClientGone(w)
	if w.Code != StatusClientClosedRequest || w.Code >= 500 {
		t.Errorf("status %d, want 499", w.Code)
	}
}
