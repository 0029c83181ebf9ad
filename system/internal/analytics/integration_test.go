package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/redirect"
	"github.com/faultline/faultline/system/internal/systemtest"
	"github.com/faultline/faultline/system/internal/telemetry"
)

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
	pg := systemtest.Postgres(t) // skips with -short
	ns := systemtest.NATS(t)
	base = systemtest.Start(t, "analytics", Run, map[string]string{
		"DATABASE_URL": pg.DSN, "NATS_URL": ns.ClientURL(), "RESILIENCE_PROFILE": profile,
	}, "/readyz").URL
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

	systemtest.Eventually(t, "both link events consumed", 10*time.Second, func() (bool, string) {
		dup := systemtest.Metric(t, base, "events_consumed_total", `subject="links.created"`, `result="duplicate"`)
		processed := systemtest.Metric(t, base, "events_consumed_total", `subject="links.created"`, `result="processed"`)
		return dup == 1 && processed == 2, fmt.Sprintf("duplicate %v, processed %v", dup, processed)
	})
	var st Stats
	getJSON(t, base+"/stats", &st)
	if st.LinksTotal != 2 || st.Links["linkA"] != 1 || st.Links["linkB"] != 1 {
		t.Errorf("links_total = %d, links %v after 2 distinct events each delivered twice, want 2, one each", st.LinksTotal, st.Links)
	}
}

func TestIntegrationNoDedupMutantCountsTwice(t *testing.T) {
	// The negative control: with dedup off the same event counts twice, so the lab's
	// duplicate check has something to catch.
	base, natsURL := startAnalytics(t, "no-dedup")
	publishTwice(t, natsURL, events.Event{ID: "ev-c", Type: events.TypeClick, Code: "dup", At: time.Now()}, false)
	systemtest.Eventually(t, "click counted twice", 10*time.Second, func() (bool, string) {
		var cs CodeStats
		getJSON(t, base+"/stats/dup", &cs)
		return cs.Clicks == 2, fmt.Sprintf("%d clicks", cs.Clicks)
	})
}

// linkStub answers redirect's lookups for any code.
func linkStub(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		code := r.URL.Path[len("/links/"):]
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"code":%q,"url":"https://example.com/%s"}`, code, code)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestIntegrationClicksCountedEqualAcked(t *testing.T) {
	base, natsURL := startAnalytics(t, "default")
	rs := systemtest.Redis(t)
	redirectBase := systemtest.Start(t, "redirect", redirect.Run, map[string]string{
		"REDIS_ADDR": rs.Addr, "LINK_URL": linkStub(t), "NATS_URL": natsURL,
	}, "/readyz").URL
	const n = 60
	for i := range n {
		resp, err := systemtest.NoFollow.Get(fmt.Sprintf("%s/r/k%d", redirectBase, i%4))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("redirect %d: %d", i, resp.StatusCode)
		}
	}
	var acked redirect.ClickStats
	systemtest.Eventually(t, "every click acked", 10*time.Second, func() (bool, string) {
		getJSON(t, redirectBase+"/clicks", &acked)
		return acked.AckedTotal == n, fmt.Sprintf("acked %d", acked.AckedTotal)
	})
	var st Stats
	systemtest.Eventually(t, "analytics caught up", 10*time.Second, func() (bool, string) {
		getJSON(t, base+"/stats", &st)
		return st.ClicksTotal >= n, fmt.Sprintf("%d clicks", st.ClicksTotal)
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
