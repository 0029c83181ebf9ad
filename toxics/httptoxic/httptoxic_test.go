package httptoxic

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// lab is a Toxiproxy API server with one proxy in front of an upstream.
type lab struct {
	api   *toxiclient.Client
	proxy *toxiclient.Proxy
	addr  string // the proxy's listen address
	hits  atomic.Int64
	paths sync.Map // path -> hits
}

func newLab(t testing.TB, handler http.Handler) *lab {
	t.Helper()
	l := &lab{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.hits.Add(1)
		n, _ := l.paths.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	return l.start(t, up.Listener.Addr().String())
}

func (l *lab) start(t testing.TB, upstream string) *lab {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiAddr := ln.Addr().String()
	ln.Close()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Listen(apiAddr) }()
	t.Cleanup(func() { _ = srv.Collection.Clear(); _ = srv.Shutdown(); <-done })
	l.api = toxiclient.NewClient("http://" + apiAddr)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := l.api.Version(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if l.proxy, err = l.api.CreateProxy("edge", "127.0.0.1:0", upstream); err != nil {
		t.Fatal(err)
	}
	l.addr = l.proxy.Listen
	return l
}

func (l *lab) pathHits(p string) int64 {
	if n, ok := l.paths.Load(p); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

var names atomic.Int64

// unique names a fault: pair names are process-wide.
func unique(s string) string { return fmt.Sprintf("%s%d", s, names.Add(1)) }

func hello(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello "+r.URL.Path) }

func keepAliveClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t testing.TB, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// TestErrorShareIsExactAndSeeded: 5,000 requests on one keep-alive connection through a real
// proxy; the 503s are the Bernoulli draws of the seed, one by one, so their number is
// within 4 standard deviations of 10 % and the same seed repeats the same pattern.
func TestErrorShareIsExactAndSeeded(t *testing.T) {
	const n, share, seed = 5000, 0.1, 42
	run := func() []bool {
		l := newLab(t, http.HandlerFunc(hello))
		ename := unique("e")
		if _, err := Add(l.proxy, TypeError, ename, Attrs{Status: 503, Share: share, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		c := keepAliveClient(t)
		failed := make([]bool, n)
		k := 0
		for i := range failed {
			code, body, _ := get(t, c, "http://"+l.addr+"/x")
			switch {
			case code == 503:
				failed[i] = true
				k++
			case code != 200 || body != "hello /x":
				t.Fatalf("request %d: got %d %q, want 200 \"hello /x\" or 503", i, code, body)
			}
		}
		sd := math.Sqrt(n * share * (1 - share))
		if math.Abs(float64(k)-n*share) > 4*sd {
			t.Errorf("503s: got %d of %d, want %v ± %.0f (4 sd)", k, n, n*share, 4*sd)
		}
		if got := l.hits.Load(); got != int64(n-k) {
			t.Errorf("upstream saw %d requests, want %d (a failed request never reaches it)", got, n-k)
		}
		st, err := Stats(l.proxy, ename)
		if err != nil {
			t.Fatal(err)
		}
		want := Counters{Requests: n, Matched: n, Affected: int64(k)}
		if st != want {
			t.Errorf("counters: got %+v, want %+v", st, want)
		}
		t.Logf("%d of %d failed (%.2f %%, 4 sd = ±%.2f points)", k, n, 100*float64(k)/n, 400*sd/n)
		return failed
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] || a[i] != Chosen(seed, uint64(i), share) {
			t.Fatalf("request %d: runs %v and %v, seed says %v: the pattern must be the seed's", i, a[i], b[i], Chosen(seed, uint64(i), share))
		}
	}
}

// TestKeepAliveStreamStaysInStep pipelines requests on one raw connection: a chunked
// response, a chunked request body that is answered by the toxic (and swallowed), a HEAD
// whose response declares a length but has no body, then a plain one. Every response must
// arrive whole and in order.
func TestKeepAliveStreamStaysInStep(t *testing.T) {
	l := newLab(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length: chunked
			_, _ = io.WriteString(w, "part one,")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part two")
		default:
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		}
	}))
	ename := unique("e")
	if _, err := Add(l.proxy, TypeError, ename, Attrs{Status: 503, Share: 1, Method: "POST", Path: "/fail", Body: "nope", RetryAfter: 7}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reqs := "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /fail/deep HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n3;ext=1\r\nfgh\r\n0\r\nTrailer: y\r\n\r\n" +
		"HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	if _, err := io.WriteString(conn, reqs); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	want := []struct {
		method string
		status int
		body   string
	}{{"GET", 200, "part one,part two"}, {"POST", 503, "nope"}, {"HEAD", 200, ""}, {"POST", 200, "hello"}}
	for i, w := range want {
		resp, err := http.ReadResponse(r, &http.Request{Method: w.method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d: body: %v", i, err)
		}
		if resp.StatusCode != w.status || string(b) != w.body {
			t.Errorf("response %d: got %d %q, want %d %q", i, resp.StatusCode, b, w.status, w.body)
		}
		if w.status == 503 && (resp.Header.Get("Retry-After") != "7" || resp.Close) {
			t.Errorf("answer: Retry-After %q close %v, want 7 and keep-alive", resp.Header.Get("Retry-After"), resp.Close)
		}
	}
	if got := l.pathHits("/fail/deep"); got != 0 {
		t.Errorf("upstream saw the failed request %d times, want 0", got)
	}
	st, _ := Stats(l.proxy, ename)
	if st.Requests != 4 || st.Matched != 1 || st.Affected != 1 || st.Passthrough != 0 {
		t.Errorf("counters: got %+v, want 4 requests, 1 matched, 1 affected, none passed through", st)
	}
}

// TestBytesThatDoNotParsePassUntouched: a protocol that is not HTTP goes through byte for
// byte, and the counters say so.
func TestBytesThatDoNotParsePassUntouched(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	l := (&lab{}).start(t, echo.Addr().String())
	ename := unique("e")
	if _, err := Add(l.proxy, TypeError, ename, Attrs{Status: 500, Share: 1}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := "*1\r\n$4\r\nPING\r\n\r\n\r\nnot http at all\r\n\r\n"
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
		t.Fatalf("echo: got %q, %v; want %q", got, err, msg)
	}
	st, _ := Stats(l.proxy, ename)
	if st.Passthrough < 1 || st.PassthroughBytes < int64(len(msg)) || st.Affected != 0 {
		t.Errorf("counters: got %+v, want a passthrough connection with >= %d bytes", st, len(msg))
	}
}

// TestOpenConnectionsAreReplaced: a keep-alive connection opened before the fault is told
// to close after its next response (forwarded untouched), and the next connection gets the
// fault: a pool cannot evade it.
func TestOpenConnectionsAreReplaced(t *testing.T) {
	l := newLab(t, http.HandlerFunc(hello))
	c := keepAliveClient(t)
	if code, _, _ := get(t, c, "http://"+l.addr+"/a"); code != 200 {
		t.Fatalf("before: %d", code)
	}
	ename := unique("e")
	if _, err := Add(l.proxy, TypeError, ename, Attrs{Status: 502, Share: 1}); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get(t, c, "http://"+l.addr+"/a"); code != 200 || body != "hello /a" {
		t.Fatalf("old connection: got %d %q, want 200 (forwarded untouched)", code, body)
	}
	if code, _, h := get(t, c, "http://"+l.addr+"/a"); code != 502 || h.Get("X-Faultline-Fault") != "http_error" {
		t.Fatalf("new connection: got %d, want the toxic's 502", code)
	}
	st, _ := Stats(l.proxy, ename)
	if st.Unfollowed != 1 || st.Recycled != 1 || st.Affected != 1 {
		t.Errorf("counters: got %+v, want 1 unfollowed, 1 recycled, 1 affected", st)
	}
}

// TestRemovedWhileOpen: removing the fault from a live keep-alive connection leaves it in
// step: the next requests on it are answered by the upstream.
func TestRemovedWhileOpen(t *testing.T) {
	for _, typ := range []string{TypeError, TypeLatency, TypeReset} {
		t.Run(typ, func(t *testing.T) {
			l := newLab(t, http.HandlerFunc(hello))
			a := Attrs{Share: 0.5, Seed: 3, Path: "/f"}
			switch typ {
			case TypeError:
				a.Status = 503
			case TypeLatency:
				a.Latency = 5
			}
			names, err := Add(l.proxy, typ, unique("f"), a)
			if err != nil {
				t.Fatal(err)
			}
			c := keepAliveClient(t)
			for i := 0; i < 20; i++ {
				resp, err := c.Get("http://" + l.addr + "/f")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			if code, _, _ := get(t, c, "http://"+l.addr+"/ok"); code != 200 {
				t.Fatalf("unmatched path: %d", code)
			}
			if err := Remove(l.proxy, names); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 20; i++ {
				if code, body, _ := get(t, c, "http://"+l.addr+"/f"); code != 200 || body != "hello /f" {
					t.Fatalf("after removal, request %d: got %d %q", i, code, body)
				}
			}
		})
	}
}

// TestLatencyDelaysTheSeedsShare: the chosen requests, and only those, are late.
func TestLatencyDelaysTheSeedsShare(t *testing.T) {
	l := newLab(t, http.HandlerFunc(hello))
	const seed, share = 9, 0.3
	lname := unique("l")
	if _, err := Add(l.proxy, TypeLatency, lname, Attrs{Latency: 60, Share: share, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	c := keepAliveClient(t)
	for i := 0; i < 40; i++ {
		begin := time.Now()
		if code, _, _ := get(t, c, "http://"+l.addr+"/x"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
		slow := time.Since(begin) >= 60*time.Millisecond
		if want := Chosen(seed, uint64(i), share); slow != want {
			t.Errorf("request %d: slow %v, want %v (took %v)", i, slow, want, time.Since(begin))
		}
	}
}

// TestResetCutsTheResponse: a chosen response arrives cut short and the connection closes;
// other paths and the next connection are fine.
func TestResetCutsTheResponse(t *testing.T) {
	l := newLab(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, strings.Repeat("x", 1000))
	}))
	rname := unique("r")
	if _, err := Add(l.proxy, TypeReset, rname, Attrs{Share: 1, Path: "/cut"}); err != nil {
		t.Fatal(err)
	}
	c := keepAliveClient(t)
	if code, body, _ := get(t, c, "http://"+l.addr+"/whole"); code != 200 || len(body) != 1000 {
		t.Fatalf("/whole: %d, %d bytes", code, len(body))
	}
	resp, err := c.Get("http://" + l.addr + "/cut")
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil {
			t.Fatalf("/cut: got a whole response %d with %d bytes, want it cut", resp.StatusCode, len(b))
		}
		if len(b) != 500 {
			t.Errorf("/cut: got %d body bytes before the cut, want 500", len(b))
		}
	}
	if code, body, _ := get(t, c, "http://"+l.addr+"/whole"); code != 200 || len(body) != 1000 {
		t.Fatalf("/whole after the cut: %d, %d bytes", code, len(body))
	}
}

// TestAPIRefusesBadAttributes: Toxiproxy's API answers 400 with the reason.
func TestAPIRefusesBadAttributes(t *testing.T) {
	l := newLab(t, http.HandlerFunc(hello))
	cases := []struct {
		typ   string
		attrs toxiclient.Attributes
		want  string
	}{
		{TypeError, toxiclient.Attributes{"role": "requests", "pair": "p", "status": 99, "share": 0.1}, "status 99"},
		{TypeError, toxiclient.Attributes{"role": "requests", "pair": "p", "status": 503, "share": 2}, "share 2"},
		{TypeError, toxiclient.Attributes{"role": "requests", "status": 503, "share": 0.1}, "pair"},
		{TypeLatency, toxiclient.Attributes{"role": "responses", "latency": 10}, "role"},
		{TypeLatency, toxiclient.Attributes{"role": "requests", "latency": 10, "colour": "red"}, "colour"},
		{TypeReset, toxiclient.Attributes{"role": "requests", "pair": "p", "status": 500}, "belong to http_error"},
	}
	for i, c := range cases {
		_, err := l.proxy.AddToxic(fmt.Sprintf("bad%d", i), c.typ, "upstream", 1, c.attrs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: got %v, want an error about %q", c.typ, c.attrs, err, c.want)
		}
	}
}
