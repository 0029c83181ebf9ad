package link

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/shortcode"
	"github.com/faultline/faultline/system/internal/telemetry"
)

type fakeStore struct {
	mu     sync.Mutex
	links  map[string]Link
	outbox []events.Event
}

func (f *fakeStore) Insert(_ context.Context, l Link, ev *events.Event, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.links[l.Code]; dup {
		return errCollision
	}
	f.links[l.Code] = l
	if ev != nil {
		f.outbox = append(f.outbox, *ev)
	}
	return nil
}

func (f *fakeStore) Get(_ context.Context, code string) (Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[code]
	if !ok {
		return Link{}, ErrNotFound
	}
	return l, nil
}

type fakeQuota QuotaResult

func (f fakeQuota) Check(context.Context, string) (QuotaResult, error) { return QuotaResult(f), nil }

func newTestHandler(t testing.TB, q QuotaResult) (http.Handler, *fakeStore) {
	tel, err := telemetry.Setup(context.Background(), "link", func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{links: map[string]Link{}}
	h := &handlers{store: st, quota: fakeQuota(q), t: tel, logger: slogDiscard(), outbox: true,
		notify: func() {}, direct: func(context.Context, events.Event) {}, now: time.Now}
	return routes(h, tel, nil), st
}

func do(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	rr := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	h.ServeHTTP(rr, req)
	return rr
}

func TestCreateHandler(t *testing.T) {
	h, st := newTestHandler(t, QuotaResult{Checked: true, Allowed: true})
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"ok", `{"url":"https://example.com/x","account":"acct-1"}`, 201, ""},
		{"default account", `{"url":"https://example.com/x"}`, 201, ""},
		{"bad url", `{"url":"ftp://x"}`, 400, "invalid_url"},
		{"bad account", `{"url":"https://e.com","account":"a b"}`, 400, "invalid_account"},
		{"unknown field", `{"url":"https://e.com","extra":1}`, 400, "invalid_body"},
		{"trailing", `{"url":"https://e.com"} {}`, 400, "invalid_body"},
		{"not json", `url=https://e.com`, 400, "invalid_body"},
		{"empty", ``, 400, "invalid_body"},
		{"wrong type", `{"url":5}`, 400, "invalid_body"},
		{"too large", `{"url":"https://e.com/` + strings.Repeat("a", maxCreateBody) + `"}`, 413, "body_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rr := do(h, "POST", "/links", tc.body)
			if rr.Code != tc.status {
				t.Fatalf("status %d (%s), want %d", rr.Code, rr.Body, tc.status)
			}
			var body map[string]any
			if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil {
				t.Fatalf("body not JSON: %q", rr.Body)
			}
			if tc.code != "" && body["code"] != tc.code {
				t.Fatalf("code = %v, want %s", body["code"], tc.code)
			}
			if tc.status == 201 && (body["quota_checked"] != true || len(body["code"].(string)) != shortcode.Length) {
				t.Fatalf("created = %v", body)
			}
		})
	}
	if len(st.outbox) != 2 {
		t.Fatalf("outbox has %d events, want one per created link (2)", len(st.outbox))
	}
}

func TestCreateQuota(t *testing.T) {
	h, st := newTestHandler(t, QuotaResult{Checked: true, Allowed: false})
	if rr := do(h, "POST", "/links", `{"url":"https://e.com"}`); rr.Code != 402 || !strings.Contains(rr.Body.String(), "quota_exceeded") {
		t.Fatalf("got %d %s, want 402 quota_exceeded", rr.Code, rr.Body)
	}
	if len(st.links) != 0 {
		t.Fatal("a refused link was stored")
	}
	h, st = newTestHandler(t, QuotaResult{Checked: false, Allowed: true})
	rr := do(h, "POST", "/links", `{"url":"https://e.com"}`)
	if rr.Code != 201 || !strings.Contains(rr.Body.String(), `"quota_checked":false`) {
		t.Fatalf("fail-open: got %d %s", rr.Code, rr.Body)
	}
	for _, l := range st.links {
		if l.QuotaChecked {
			t.Fatal("unchecked link stored as checked")
		}
	}
}

func TestGetHandler(t *testing.T) {
	h, _ := newTestHandler(t, QuotaResult{Checked: true, Allowed: true})
	rr := do(h, "POST", "/links", `{"url":"https://e.com/1"}`)
	var created Link
	_ = json.Unmarshal(rr.Body.Bytes(), &created)
	if rr = do(h, "GET", "/links/"+created.Code, ""); rr.Code != 200 || !strings.Contains(rr.Body.String(), "https://e.com/1") {
		t.Fatalf("get: %d %s", rr.Code, rr.Body)
	}
	for _, p := range []string{"/links/zzzzzzzz", "/links/%00", "/links/a-b", "/nope"} {
		if rr := do(h, "GET", p, ""); rr.Code != 404 {
			t.Errorf("GET %s = %d, want 404", p, rr.Code)
		}
	}
	if rr := do(h, "DELETE", "/links/abc", ""); rr.Code != 405 {
		t.Errorf("DELETE = %d, want 405", rr.Code)
	}
}

func FuzzHandlers(f *testing.F) {
	f.Add("POST", "/links", `{"url":"https://example.com"}`)
	f.Add("POST", "/links", `{"url":"https://example.com","account":"x"}`)
	f.Add("GET", "/links/abc", "")
	f.Add("PUT", "/links", "{")
	f.Add("POST", "/links", `{"url":"http://[::1]:0/"}`)
	h, _ := newTestHandler(f, QuotaResult{Checked: true, Allowed: true})
	f.Fuzz(func(t *testing.T, method, path, body string) {
		req, err := http.NewRequest(method, "http://link"+path, strings.NewReader(body))
		if err != nil || req.URL.Path == "" || !strings.HasPrefix(req.URL.Path, "/") {
			return
		}
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rr.Code, rr.Body)
		}
		if rr.Code >= 400 && rr.Code != 404 || rr.Code == 404 && req.URL.Path != "/metrics" {
			var e struct{ Error, Code string }
			if err := json.Unmarshal(rr.Body.Bytes(), &e); (err != nil || e.Error == "" || e.Code == "") && rr.Code >= 400 {
				t.Fatalf("%s %s: %d with non-JSON error %q", method, path, rr.Code, rr.Body)
			}
		}
	})
}

// collidingStore reports a code collision for the first n inserts.
type collidingStore struct {
	*fakeStore
	n     int
	tries int
}

func (c *collidingStore) Insert(ctx context.Context, l Link, ev *events.Event, tp string) error {
	c.tries++
	if c.tries <= c.n {
		return errCollision
	}
	return c.fakeStore.Insert(ctx, l, ev, tp)
}

func TestCreateRetriesOnCollision(t *testing.T) {
	tel, _ := telemetry.Setup(context.Background(), "link", func(string) string { return "" }, nil)
	for _, tc := range []struct {
		collisions, status, tries int
	}{{2, 201, 3}, {codeAttempts, 503, codeAttempts}} {
		st := &collidingStore{fakeStore: &fakeStore{links: map[string]Link{}}, n: tc.collisions}
		h := &handlers{store: st, quota: fakeQuota{Checked: true, Allowed: true}, t: tel, logger: slogDiscard(), outbox: true,
			notify: func() {}, direct: func(context.Context, events.Event) {}, now: time.Now}
		rr := do(routes(h, tel, nil), "POST", "/links", `{"url":"https://e.com"}`)
		if rr.Code != tc.status || st.tries != tc.tries {
			t.Errorf("%d collisions: status %d after %d tries, want %d after %d", tc.collisions, rr.Code, st.tries, tc.status, tc.tries)
		}
		if tc.status == 201 && len(st.outbox) != 1 {
			t.Errorf("outbox = %d events, want 1 (only the committed attempt)", len(st.outbox))
		}
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
