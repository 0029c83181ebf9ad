package load

import (
	"bufio"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestResentRequestsAreUnknownClicks: Go's transport writes a GET again on a fresh connection
// when the reused one breaks after the request went out. The server saw two redirects for one
// client request; the client received one 302. Without counting the copy, the tally calls the
// system's second click a duplicate (a false fail, seen once after an abort healed a fault).
func TestResentRequestsAreUnknownClicks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var seen atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					// The second request of the run arrives on the reused connection: read it,
					// then break the connection without an answer.
					if seen.Add(1) == 2 {
						return
					}
					_ = req.Body.Close()
					resp := "HTTP/1.1 302 Found\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n"
					if _, err := c.Write([]byte(resp)); err != nil {
						return
					}
				}
			}()
		}
	}()
	streams := []Stream{{Name: "redirect", Method: "GET", Path: "/r/{code}", Rate: 5, Codes: []string{"abc"}}}
	var tally Tally
	var results []Result
	err = Run(t.Context(), "http://"+ln.Addr().String(), streams, 300*time.Millisecond, Options{Timeout: 2 * time.Second, MaxRequests: 2},
		func(r Result) { results = append(results, r); tally.Add(r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || seen.Load() != 3 {
		t.Fatalf("%d results, server saw %d requests; want 2 and 3 (one written twice by the transport)", len(results), seen.Load())
	}
	resent := 0
	for _, r := range results {
		resent += r.Resent
		if r.Code != http.StatusFound {
			t.Errorf("result %d: code %d, want 302 (the transport's second copy answered)", r.Seq, r.Code)
		}
	}
	if resent != 1 {
		t.Errorf("Resent over the results = %d, want 1", resent)
	}
	if got := tally.Clicks()["abc"]; got.Redirected != 2 || got.Unknown != 1 {
		t.Errorf("tally = %+v, want 2 redirected and 1 unknown (the copy the server may have counted)", got)
	}
}
