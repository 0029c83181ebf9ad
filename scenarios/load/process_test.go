package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMain lets this test binary be the generator process: StartProcess runs `BIN loadgen`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "loadgen" {
		if err := ServeProcess(os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestProcessRunsTheSchedule: the generator process sends what Run would (rate × duration,
// the bodies of POST answers kept), tells of each send before its result, and exits.
func TestProcessRunsTheSchedule(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"code":"abc"}`))
		}
	}))
	defer srv.Close()
	streams := []Stream{{Name: "get", Method: "GET", Path: "/x", Rate: 100}, {Name: "post", Method: "POST", Path: "/api/links", Rate: 20, Body: `{"url":"https://e.x/<seq>"}`}}
	ctx := context.Background()
	p, err := StartProcess(ctx, self(t), srv.URL, streams, time.Second, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sent := map[string]bool{}
	var results []Result
	err = p.Run(ctx, func(s Sent) { sent[fmt.Sprint(s.Stream, s.Seq)] = true }, func(r Result) {
		if !sent[fmt.Sprint(r.Stream, r.Seq)] {
			t.Errorf("result %s/%d before its send", r.Stream, r.Seq)
		}
		results = append(results, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range results {
		n[r.Stream]++
		if r.Code == 0 || r.Sent.IsZero() || r.Scheduled.IsZero() {
			t.Errorf("result %+v: missing code or times", r)
		}
		if r.Stream == "post" && (string(r.Body) != `{"code":"abc"}` || r.SentURL == "") {
			t.Errorf("post result body %q, sent url %q", r.Body, r.SentURL)
		}
		if r.Lag() > 200*time.Millisecond {
			t.Errorf("lag %s: the process did not send on schedule", r.Lag())
		}
	}
	if n["get"] != 100 || n["post"] != 20 || int(served.Load()) != 120 {
		t.Errorf("results %v, served %d; want get 100, post 20 (rate × 1 s)", n, served.Load())
	}
	if p.cmd.ProcessState == nil || !p.cmd.ProcessState.Exited() {
		t.Errorf("the generator process has not exited: %v", p.cmd.ProcessState)
	}
}

// TestProcessStopsOnCancel: cancelling stops the streams, the last results still arrive, and
// the process exits: no process is left behind.
func TestProcessStopsOnCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	p, err := StartProcess(context.Background(), self(t), srv.URL, []Stream{{Name: "get", Method: "GET", Path: "/", Rate: 100}}, time.Minute, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	got := 0
	began := time.Now()
	err = p.Run(ctx, nil, func(Result) { got++ })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the cancellation", err)
	}
	if took := time.Since(began); took > 5*time.Second || got < 10 || got > 100 {
		t.Errorf("stopped after %s with %d results; want about 50 in about 0.5 s", took, got)
	}
	if p.cmd.ProcessState == nil {
		t.Error("the generator process was not waited for")
	}
}

// TestProcessRefusesWhatRunRefuses: a bad target or stream fails before any process starts.
func TestProcessRefusesWhatRunRefuses(t *testing.T) {
	ctx := context.Background()
	if _, err := StartProcess(ctx, self(t), "http://192.0.2.1:80", []Stream{{Name: "a", Method: "GET", Path: "/", Rate: 1}}, time.Second, Options{}); !errors.Is(err, ErrRemote) {
		t.Errorf("remote target: err %v, want ErrRemote", err)
	}
	if _, err := StartProcess(ctx, self(t), "http://127.0.0.1:1", []Stream{{Name: "a", Method: "GET", Path: "/", Rate: -1}}, time.Second, Options{}); !errors.Is(err, ErrStreams) {
		t.Errorf("bad stream: err %v, want ErrStreams", err)
	}
	if _, err := StartProcess(ctx, "/nonexistent/faultline", "http://127.0.0.1:1", []Stream{{Name: "a", Method: "GET", Path: "/", Rate: 1}}, time.Second, Options{}); err == nil || !strings.Contains(err.Error(), "/nonexistent/faultline") {
		t.Errorf("missing binary: err %v, want it named", err)
	}
}

// TestProcessDeathIsAnError: a generator process that dies mid-run is an error of the run,
// never a short, clean one.
func TestProcessDeathIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	p, err := StartProcess(context.Background(), self(t), srv.URL, []Stream{{Name: "get", Method: "GET", Path: "/", Rate: 100}}, 10*time.Second, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	time.AfterFunc(300*time.Millisecond, func() { _ = p.cmd.Process.Signal(syscall.SIGKILL) })
	err = p.Run(context.Background(), nil, func(Result) {})
	if err == nil || !strings.Contains(err.Error(), "ended without its last line") {
		t.Errorf("err %v, want the process's death", err)
	}
}
