package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faultline/faultline/system/internal/telemetry"
)

type fakeStats struct {
	clicks map[string]int64
	links  map[string]int64 // code → link events
	err    error
}

func (f *fakeStats) Clicks(_ context.Context, code string) (int64, error) {
	return f.clicks[code], f.err
}

func (f *fakeStats) Stats(context.Context) (Stats, error) {
	if f.err != nil {
		return Stats{}, f.err
	}
	s := Stats{Codes: map[string]int64{}, Links: map[string]int64{}}
	for k, v := range f.clicks {
		s.Codes[k] = v
		s.ClicksTotal += v
	}
	for k, v := range f.links {
		s.Links[k] = v
		s.LinksTotal += v
	}
	return s, nil
}

func newTestServer(t testing.TB, store statsReader) http.Handler {
	t.Helper()
	tel, err := telemetry.Setup(context.Background(), "analytics", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewServer(nil, tel, store, nil)
}

func TestStatsHandlers(t *testing.T) {
	ok := &fakeStats{clicks: map[string]int64{"abc": 3, "xyz": 2}, links: map[string]int64{"abc": 1, "xyz": 1}}
	// A link seen twice (dedup failed) and one never clicked: links is not limited to codes.
	twice := &fakeStats{clicks: map[string]int64{"abc": 1}, links: map[string]int64{"abc": 2, "new": 1}}
	empty := &fakeStats{}
	down := &fakeStats{err: errors.New("connection refused")}
	tests := []struct {
		name       string
		store      statsReader
		path       string
		wantStatus int
		wantBody   string // JSON, compared after normalising
	}{
		{"code seen", ok, "/stats/abc", 200, `{"code":"abc","clicks":3}`},
		{"code never seen", ok, "/stats/new", 200, `{"code":"new","clicks":0}`},
		{"invalid code", ok, "/stats/a.b", 400, `{"error":"code: want 1 to 32 characters from [0-9A-Za-z]","code":"invalid_code"}`},
		{"totals", ok, "/stats", 200, `{"clicks_total":5,"links_total":2,"codes":{"abc":3,"xyz":2},"links":{"abc":1,"xyz":1}}`},
		{"link events per code", twice, "/stats", 200, `{"clicks_total":1,"links_total":3,"codes":{"abc":1},"links":{"abc":2,"new":1}}`},
		{"nothing seen: empty maps, not null", empty, "/stats", 200, `{"clicks_total":0,"links_total":0,"codes":{},"links":{}}`},
		{"db down code", down, "/stats/abc", 503, `{"error":"analytics database unavailable, retry later","code":"unavailable"}`},
		{"db down totals", down, "/stats", 503, `{"error":"analytics database unavailable, retry later","code":"unavailable"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			newTestServer(t, tt.store).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			var got, want any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			_ = json.Unmarshal([]byte(tt.wantBody), &want)
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if string(g) != string(w) {
				t.Errorf("body = %s, want %s", g, w)
			}
		})
	}
}

func FuzzStatsHandlers(f *testing.F) {
	for _, s := range []string{"/stats/abc", "/stats/", "/stats", "/stats/%2e%2e", "/stats/" + strings.Repeat("9", 40), "/metricsx"} {
		f.Add("GET", s)
	}
	f.Add("POST", "/stats/abc")
	h := newTestServer(f, &fakeStats{clicks: map[string]int64{"abc": 1}})
	f.Fuzz(func(t *testing.T, method, path string) {
		if !strings.HasPrefix(path, "/") || path == "/metrics" || path == "/healthz" || path == "/readyz" {
			return
		}
		req, err := http.NewRequest(method, "http://analytics"+path, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d", method, path, rec.Code)
		}
		if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %q: %d with content type %q", method, path, rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}
