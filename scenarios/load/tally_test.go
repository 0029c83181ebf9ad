package load

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTallyClassifiesAnswers(t *testing.T) {
	var tl Tally
	for _, r := range []Result{
		{ClickCode: "a", Code: 302},
		{ClickCode: "a", Code: 302},
		{ClickCode: "a", Code: 0, Err: "timeout"}, // may or may not have been counted
		{ClickCode: "a", Code: 504},
		{ClickCode: "a", Code: 429}, // shed at the gateway: no click
		{ClickCode: "b", Code: 404},
		{ClickCode: "", Code: 302}, // not a redirect request
		{Code: 201, Body: []byte(`{"code":"x"}`), SentURL: "https://example.com/1"},
		{Code: 201, Body: []byte(`{"nocode":1}`), SentURL: "https://example.com/2"},
		{Code: 500, Body: []byte(`{"code":"y"}`), SentURL: "https://example.com/3"},
	} {
		tl.Add(r)
	}
	got := tl.Clicks()
	if got["a"] != (Clicks{Redirected: 2, Unknown: 2}) {
		t.Errorf("a = %+v, want 2 redirected, 2 unknown", got["a"])
	}
	if _, ok := got["b"]; ok || len(got) != 1 {
		t.Errorf("clicks = %+v, want only a", got)
	}
	if l := tl.Links(); len(l) != 1 || l[0] != (Link{Code: "x", URL: "https://example.com/1"}) {
		t.Errorf("links = %+v, want x created with https://example.com/1", l)
	}
}

func TestClickCode(t *testing.T) {
	cases := []struct{ method, path, want string }{
		{"GET", "/r/abc", "abc"},
		{"HEAD", "/r/abc", "abc"},
		{"POST", "/r/abc", ""},
		{"GET", "/r/", ""},
		{"GET", "/r/abc/x", ""},
		{"GET", "/api/links/abc", ""},
	}
	for _, c := range cases {
		if got := ClickCode(c.method, c.path); got != c.want {
			t.Errorf("ClickCode(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

// TestRunRecordsWhatWasSent: every result names the code it redirected and the URL its
// creation sent, even when answers come back out of order.
func TestRunRecordsWhatWasSent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Fragment != "" || strings.Contains(r.RequestURI, "#") {
			t.Errorf("the fragment went on the wire: %s", r.RequestURI)
		}
		if r.Method == http.MethodPost {
			var b struct{ URL string }
			_ = json.NewDecoder(r.Body).Decode(&b)
			// Answer in a varying order, so vegeta's numbering and ours drift apart.
			time.Sleep(time.Duration(len(b.URL)%7) * time.Millisecond)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"code": %q}`, "for:"+b.URL)
			return
		}
		w.Header().Set("Location", "https://example.com/")
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	streams := []Stream{
		{Name: "redirect", Method: "GET", Path: "/r/{code}", Rate: 200, Codes: []string{"a", "b", "c"}},
		{Name: "create", Method: "POST", Path: "/api/links", Rate: 200, Body: `{"url": "https://example.com/<seq>", "account": "acct-<n>"}`},
		{Name: "get", Method: "GET", Path: "/api/links/{code}", Rate: 50, Codes: []string{"a"}},
	}
	res := collect(t, srv.URL, streams, time.Second, Options{})
	var tl Tally
	creations := 0
	for _, r := range res {
		tl.Add(r)
		switch r.Stream {
		case "redirect":
			if r.ClickCode != "a" && r.ClickCode != "b" && r.ClickCode != "c" {
				t.Fatalf("redirect result without its code: %+v", r)
			}
		case "create":
			creations++
			if r.ClickCode != "" || !strings.HasPrefix(r.SentURL, "https://example.com/") {
				t.Fatalf("creation result %+v: want its sent URL, no click", r)
			}
		case "get":
			if r.ClickCode != "" {
				t.Fatalf("GET /api/links is no click: %+v", r)
			}
		}
	}
	if len(tl.Links()) != creations || creations == 0 {
		t.Fatalf("%d links tallied of %d creations", len(tl.Links()), creations)
	}
	for _, l := range tl.Links() {
		// The server named each code after the URL it received: the client's record must agree.
		if l.Code != "for:"+l.URL {
			t.Fatalf("link %q recorded with URL %q: the result was matched with another request's body", l.Code, l.URL)
		}
	}
}
