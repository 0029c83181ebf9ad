package analytics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/natsd"
	"github.com/faultline/faultline/system/internal/redirect"
	"github.com/faultline/faultline/system/internal/telemetry"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type runFunc func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error

// runService runs a service's Run in-process on a free port until the test ends, and waits
// until its /readyz answers 200.
func runService(t *testing.T, name string, run runFunc, env map[string]string) string {
	t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env["LISTEN_ADDR"] = addr
	env["LOG_FORMAT"] = "text"
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("%s: Run returned %v on shutdown", name, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20s", name)
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-errc:
			t.Fatalf("%s exited while starting: %v\n%s", name, err, logs.String())
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 15s\n%s", name, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func startNATS(t *testing.T) *natsd.Server {
	t.Helper()
	ns, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func metric(t *testing.T, base, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + name + `\{([^}]*)\} (\S+)$`)
next:
	for _, m := range re.FindAllSubmatch(body, -1) {
		for _, l := range labels {
			if !bytes.Contains(m[1], []byte(l)) {
				continue next
			}
		}
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		return v
	}
	return 0
}

func eventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// publishTwice publishes ev twice on a fresh connection, with or without the JetStream
// message id; it returns the two acks' duplicate flags.
func publishTwice(t *testing.T, natsURL string, ev events.Event, msgID bool) [2]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, js, err := events.Connect(ctx, natsURL, "test-publisher", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := events.EnsureStreams(ctx, js); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.Setup(ctx, "test-publisher", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(js, tel, "link->nats", msgID, nil)
	var dup [2]bool
	for i := range 2 {
		ack, err := pub.TryPublish(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		dup[i] = ack.Duplicate
	}
	return dup
}

func startAnalytics(t *testing.T, profile string) (base, natsURL string) {
	t.Helper()
	pg := startPostgres(t) // skips with -short
	ns := startNATS(t)
	base = runService(t, "analytics", Run, map[string]string{
		"DATABASE_URL": pg.DSN, "NATS_URL": ns.ClientURL(), "RESILIENCE_PROFILE": profile,
	})
	return base, ns.ClientURL()
}

func TestIntegrationLinkEventTwiceCountedOnce(t *testing.T) {
	base, natsURL := startAnalytics(t, "default")
	at := time.Now().UTC()
	// Same message id twice: JetStream itself drops the second publish.
	dup := publishTwice(t, natsURL, events.Event{ID: "ev-a", Type: events.TypeLinkCreated, Code: "linkA", URL: "https://a", At: at}, true)
	if dup != [2]bool{false, true} {
		t.Errorf("JetStream duplicate flags %v, want [false true]", dup)
	}
	// No message id: both copies reach analytics, whose processed-events table drops one.
	publishTwice(t, natsURL, events.Event{ID: "ev-b", Type: events.TypeLinkCreated, Code: "linkB", URL: "https://b", At: at}, false)

	eventually(t, "both link events consumed", 10*time.Second, func() bool {
		return metric(t, base, "events_consumed_total", `subject="links.created"`, `result="duplicate"`) == 1 &&
			metric(t, base, "events_consumed_total", `subject="links.created"`, `result="processed"`) == 2
	})
	var st Stats
	getJSON(t, base+"/stats", &st)
	if st.LinksTotal != 2 {
		t.Errorf("links_total = %d after 2 distinct events each delivered twice, want 2", st.LinksTotal)
	}
}

func TestIntegrationNoDedupMutantCountsTwice(t *testing.T) {
	// The negative control: with dedup off the same event counts twice, so the lab's
	// duplicate check has something to catch.
	base, natsURL := startAnalytics(t, "no-dedup")
	publishTwice(t, natsURL, events.Event{ID: "ev-c", Type: events.TypeClick, Code: "dup", At: time.Now()}, false)
	eventually(t, "click counted twice", 10*time.Second, func() bool {
		var cs CodeStats
		getJSON(t, base+"/stats/dup", &cs)
		return cs.Clicks == 2
	})
}

// linkStub answers redirect's lookups for any code.
func linkStub(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		code := r.URL.Path[len("/links/"):]
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"code":%q,"url":"https://example.com/%s"}`, code, code)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

func TestIntegrationClicksCountedEqualAcked(t *testing.T) {
	base, natsURL := startAnalytics(t, "default")
	rs, err := localserver.Redis(context.Background(), localserver.RedisOptions{Dir: t.TempDir()})
	if errors.Is(err, localserver.ErrMissingBinary) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (Debian package redis-server; run `make deps`)", err)
		}
		t.Skipf("%v (Debian package redis-server; run `make deps`)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Stop() })
	redirectBase := runService(t, "redirect", redirect.Run, map[string]string{
		"REDIS_ADDR": rs.Addr, "LINK_URL": linkStub(t), "NATS_URL": natsURL,
	})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const n = 60
	for i := range n {
		resp, err := client.Get(fmt.Sprintf("%s/r/k%d", redirectBase, i%4))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("redirect %d: %d", i, resp.StatusCode)
		}
	}
	var acked redirect.ClickStats
	eventually(t, "every click acked", 10*time.Second, func() bool {
		getJSON(t, redirectBase+"/clicks", &acked)
		return acked.AckedTotal == n
	})
	var st Stats
	eventually(t, "analytics caught up", 10*time.Second, func() bool {
		getJSON(t, base+"/stats", &st)
		return st.ClicksTotal >= n
	})
	time.Sleep(200 * time.Millisecond) // a late double count would show now
	getJSON(t, base+"/stats", &st)
	if st.ClicksTotal != acked.AckedTotal {
		t.Errorf("analytics counted %d clicks, redirect acked %d", st.ClicksTotal, acked.AckedTotal)
	}
	for code, want := range acked.Acked {
		if st.Codes[code] != want {
			t.Errorf("code %s: analytics %d, acked %d", code, st.Codes[code], want)
		}
	}
}
