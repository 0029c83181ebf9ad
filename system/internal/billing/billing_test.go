package billing

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/events"
	"github.com/faultline/faultline/system/internal/telemetry"
)

func openStore(t testing.TB) *Store {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ev(id, account string) events.Event {
	return events.Event{ID: id, Type: events.TypeLinkCreated, Code: "c" + id, Account: account, At: time.Now()}
}

func TestCountLinkIdempotent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for _, id := range []string{"e1", "e2", "e1", "e2", "e3"} {
		err := s.CountLink(ctx, ev(id, "a"), true)
		if err != nil && !errors.Is(err, events.ErrDuplicate) {
			t.Fatal(err)
		}
	}
	if n, _ := s.Usage(ctx, "a"); n != 3 {
		t.Fatalf("usage = %d, want 3 (e1,e2,e3 once each)", n)
	}
	if err := s.CountLink(ctx, ev("e1", "a"), true); !errors.Is(err, events.ErrDuplicate) {
		t.Fatalf("redelivery: err = %v, want ErrDuplicate", err)
	}
	// The no-dedup mutant really double counts: the negative control must be able to fail.
	s2 := openStore(t)
	for range 2 {
		_ = s2.CountLink(ctx, ev("x", "b"), false)
	}
	if n, _ := s2.Usage(ctx, "b"); n != 2 {
		t.Fatalf("no-dedup usage = %d, want 2", n)
	}
}

func TestCountLinkConcurrentRedeliveries(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.CountLink(ctx, ev([]string{"p", "q"}[i%2], "c"), true)
		}()
	}
	wg.Wait()
	if n, _ := s.Usage(ctx, "c"); n != 2 {
		t.Fatalf("usage = %d, want 2", n)
	}
}

func TestQuotaAndPlans(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	q, err := s.Quota(ctx, "new")
	if err != nil || q.Plan != DefaultPlan || !q.Allowed || q.Used != 0 || q.Remaining != q.Limit {
		t.Fatalf("new account quota = %+v, %v", q, err)
	}
	if err := s.SetPlan(ctx, "new", "tiny"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2", "3"} {
		_ = s.CountLink(ctx, ev(id, "new"), true)
	}
	q, _ = s.Quota(ctx, "new")
	if q.Allowed || q.Remaining != 0 || q.Used != 3 || q.Limit != 3 {
		t.Fatalf("exhausted quota = %+v", q)
	}
	if err := s.SetPlan(ctx, "new", "gold"); !errors.Is(err, ErrUnknownPlan) {
		t.Fatalf("unknown plan: %v", err)
	}
	// Reopening the file keeps everything (WAL is checkpointed on close).
	path := filepath.Join(t.TempDir(), "re.db")
	s1, _ := Open(ctx, path)
	_ = s1.CountLink(ctx, ev("k", "r"), true)
	_ = s1.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n, _ := s2.Usage(ctx, "r"); n != 1 {
		t.Fatalf("after reopen usage = %d", n)
	}
	if err := s2.CountLink(ctx, ev("k", "r"), true); !errors.Is(err, events.ErrDuplicate) {
		t.Fatalf("processed table lost on reopen: %v", err)
	}
}

func newHandler(t testing.TB) http.Handler {
	tel, err := telemetry.Setup(context.Background(), "billing", func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return routes(&handlers{store: openStore(t), logger: slog.New(slog.DiscardHandler)}, tel, nil)
}

func TestHandlers(t *testing.T) {
	h := newHandler(t)
	cases := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"GET", "/quota/acct-1", "", 200, `"plan":"free"`},
		{"GET", "/usage/acct-1", "", 200, `"links_created":0`},
		{"GET", "/quota/bad%20name", "", 400, "invalid_account"},
		{"GET", "/quota/-x", "", 400, "invalid_account"},
		{"POST", "/quota/acct-1", "", 405, "method_not_allowed"},
		{"PUT", "/accounts/acct-1", `{"plan":"tiny"}`, 200, `"limit":3`},
		{"PUT", "/accounts/acct-1", `{"plan":"gold"}`, 400, "unknown_plan"},
		{"PUT", "/accounts/acct-1", `{"plan":1}`, 400, "invalid_body"},
		{"GET", "/nope", "", 404, "not_found"},
	}
	for _, tc := range cases {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		if rr.Code != tc.status || !strings.Contains(rr.Body.String(), tc.contains) {
			t.Errorf("%s %s: %d %s, want %d containing %s", tc.method, tc.path, rr.Code, rr.Body, tc.status, tc.contains)
		}
	}
}

func FuzzHandlers(f *testing.F) {
	f.Add("GET", "/quota/a", "")
	f.Add("GET", "/usage/a", "")
	f.Add("PUT", "/accounts/a", `{"plan":"tiny"}`)
	f.Add("PUT", "/accounts/a", `{"plan":"tiny"}x`)
	h := newHandler(f)
	f.Fuzz(func(t *testing.T, method, path, body string) {
		req, err := http.NewRequest(method, "http://billing"+path, strings.NewReader(body))
		if err != nil || !strings.HasPrefix(req.URL.Path, "/") {
			return
		}
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rr.Code, rr.Body)
		}
		if rr.Code >= 400 {
			var e struct{ Error, Code string }
			if json.Unmarshal(rr.Body.Bytes(), &e) != nil || e.Code == "" {
				t.Fatalf("%s %s: %d non-JSON error %q", method, path, rr.Code, rr.Body)
			}
		}
	})
}
