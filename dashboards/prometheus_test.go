package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/toxics"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// need fails on CI and skips elsewhere: integration tests must not skip on CI.
func need(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip(err)
}

func prometheusBinary() (string, error) {
	for _, p := range []string{"/usr/bin/prometheus"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	return "", errors.New("prometheus not found: install the Debian package `prometheus` (make deps)")
}

// adaptiveDashboard is the dashboard of the adaptive policies: the classic test profile has
// none of them, so TestAdaptivePanelsReturnData proves it on a profile that has them all.
const adaptiveDashboard = "faultline-adaptive"

// TestPanelsReturnData proves the dashboards are real: every panel's PromQL, run by a real
// Prometheus scraping the real system under load with one fault, parses and returns data.
func TestPanelsReturnData(t *testing.T) {
	provePanels(t, "testdata/profile.yaml", func(d Dashboard) bool { return d.UID != adaptiveDashboard })
}

// TestAdaptivePanelsReturnData proves faultline-adaptive's panels the same way, on a profile
// with an adaptive limiter, a throttler, a budget and a hedge placed where the same drive and
// fault move each of their series (limit, in flight, queued, rejections, rejection rate,
// budget left and refused, hedges sent).
func TestAdaptivePanelsReturnData(t *testing.T) {
	provePanels(t, "testdata/adaptive-profile.yaml", func(d Dashboard) bool { return d.UID == adaptiveDashboard })
}

// provePanels starts the system with profileFile, scrapes it with a real Prometheus while
// driving load with link->billing 300 ms late, and checks every panel query of the dashboards
// keep selects returns data (and every annotation query parses).
func provePanels(t *testing.T, profileFile string, keep func(Dashboard) bool) {
	if testing.Short() {
		t.Skip("-short: no servers")
	}
	prom, err := prometheusBinary()
	need(t, err)
	for _, find := range []func() (string, error){localserver.PostgresBinDir, localserver.RedisBinary} {
		_, err := find()
		need(t, err)
	}
	bin, err := testbin.Path()
	if err != nil {
		t.Fatal(err)
	}
	all, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	var ds []Dashboard
	for _, d := range all {
		if keep(d) {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		t.Fatal("no dashboard selected")
	}
	profile, err := filepath.Abs(profileFile)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir(), StateDir: t.TempDir(), Binary: bin, Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())

	promURL := startPrometheus(ctx, t, prom, l.Endpoints())
	// Prometheus applies its targets a few seconds after start; load before that is unseen.
	waitScrapedAfter(ctx, t, promURL, time.Now())

	// One fault: billing answers 300 ms late, above link's 100 ms per-attempt timeout.
	f, err := toxics.New("latency", map[string]any{"latency": "300ms"})
	if err != nil {
		t.Fatal(err)
	}
	undo, err := f.Apply(ctx, l.Env(), "link->billing")
	if err != nil {
		t.Fatal(err)
	}
	defer undo(context.Background())

	drive(ctx, t, l.Gateway())
	loadEnd := time.Now()
	waitScrapedAfter(ctx, t, promURL, loadEnd)

	var panels, annotations int
	for _, d := range ds {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				panels++
				n, err := query(ctx, promURL, tg.Expr)
				switch {
				case err != nil:
					t.Errorf("%s / %q: %v\n  %s", d.UID, p.Title, err, tg.Expr)
				case n == 0:
					t.Errorf("%s / %q: no data\n  %s\n  %s", d.UID, p.Title, tg.Expr, rawSeries(ctx, promURL, tg.Expr))
				}
			}
		}
		// Annotations mark events (a breaker opening, a component down) that a short run may
		// rightly not have: they must parse, not return data.
		for _, a := range d.Annotations.List {
			if a.Expr == "" {
				continue
			}
			annotations++
			if _, err := query(ctx, promURL, a.Expr); err != nil {
				t.Errorf("%s / annotation %q: %v\n  %s", d.UID, a.Name, err, a.Expr)
			}
		}
	}
	t.Logf("%d panel queries and %d annotation queries evaluated by %s", panels, annotations, prom)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPrometheus runs Prometheus on a free loopback port, scraping every component's
// /metrics each second, and returns its base URL once it is ready.
func startPrometheus(ctx context.Context, t *testing.T, bin string, endpoints map[string]string) string {
	t.Helper()
	var targets []string
	for k, v := range endpoints {
		if !strings.HasSuffix(k, "_metrics") {
			continue
		}
		u, err := url.Parse(v)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, strconv.Quote(u.Host))
	}
	slices.Sort(targets)
	if len(targets) != 5 {
		t.Fatalf("metrics endpoints %v, want the five services", targets)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: faultline
    static_configs:
      - targets: [%s]
`, strings.Join(targets, ", "))
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	var logBuf bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logBuf.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ok, _ := get(ctx, base+"/-/ready"); ok {
			return base
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited: %s", logBuf.String())
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 20s: %s", logBuf.String())
		}
	}
}

func get(ctx context.Context, u string) (bool, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode == http.StatusOK, b
}

// drive sends a little traffic through the gateway: links created by 16 workers at once (the
// bulkhead of one rejects some; with 8, link->billing's budget refused no retry once the
// route guard lost its goroutine), each redirected twice (a miss, then a hit), each read,
// and a burst of stats reads (rate limited at 2/s).
func drive(ctx context.Context, t *testing.T, gateway string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, body string) (int, []byte) {
		req, err := http.NewRequestWithContext(ctx, method, gateway+path, strings.NewReader(body))
		if err != nil {
			return 0, nil
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, b
	}
	const workers, perWorker = 16, 3
	var mu sync.Mutex
	var codes []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				st, b := do(http.MethodPost, "/api/links", fmt.Sprintf(`{"url":"https://example.com/%d/%d"}`, w, i))
				var out struct{ Code string }
				if st == http.StatusCreated && json.Unmarshal(b, &out) == nil && out.Code != "" {
					mu.Lock()
					codes = append(codes, out.Code)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(codes) == 0 {
		t.Fatal("no link was created through the gateway")
	}
	for round := range 2 {
		for _, c := range codes {
			if st, _ := do(http.MethodGet, "/r/"+c, ""); st != http.StatusFound {
				t.Errorf("redirect %s round %d: %d", c, round, st)
			}
		}
	}
	for _, c := range codes {
		do(http.MethodGet, "/api/links/"+c, "")
	}
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(http.MethodGet, "/api/links/"+codes[i%len(codes)]+"/stats", "")
		}()
	}
	wg.Wait()
	t.Logf("created %d of %d links with link->billing 300 ms late", len(codes), workers*perWorker)
}

// waitScrapedAfter waits until Prometheus scraped every target twice after t0 (one scrape
// interval apart): a counter's series appears at its first increment, and rate() needs two
// samples of it.
func waitScrapedAfter(ctx context.Context, t *testing.T, base string, t0 time.Time) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		n, nerr := scalar(ctx, base, `count(up{job="faultline"} == 1)`)
		v, err := scalar(ctx, base, `min(timestamp(up{job="faultline"}))`)
		if nerr == nil && err == nil && n == 5 && v > float64(t0.Add(1500*time.Millisecond).UnixMilli())/1000 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("prometheus did not scrape all five services twice within 15s after %s", t0.Format(time.TimeOnly))
}

type apiResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

// query runs an instant query and returns how many series it returned.
func query(ctx context.Context, base, expr string) (int, error) {
	r, err := instant(ctx, base, expr)
	if err != nil {
		return 0, err
	}
	return len(r.Data.Result), nil
}

func instant(ctx context.Context, base, expr string) (*apiResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/query", strings.NewReader(url.Values{"query": {expr}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("prometheus answered %s: %w", resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s: %s", r.ErrorType, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", r.Data.ResultType)
	}
	return &r, nil
}

func scalar(ctx context.Context, base, expr string) (float64, error) {
	r, err := instant(ctx, base, expr)
	if err != nil {
		return 0, err
	}
	if len(r.Data.Result) == 0 {
		return 0, errors.New("no data")
	}
	var s struct {
		Value [2]any `json:"value"`
	}
	if err := json.Unmarshal(r.Data.Result[0], &s); err != nil {
		return 0, err
	}
	str, _ := s.Value[1].(string)
	return strconv.ParseFloat(str, 64)
}

// rawSeries says what Prometheus holds for each metric of an expression (series and samples
// in the last 5 minutes), to tell "never exported" from "too few samples" when a panel is empty.
func rawSeries(ctx context.Context, base, expr string) string {
	var parts []string
	for _, m := range MetricNames(expr) {
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Values []json.RawMessage `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?"+url.Values{"query": {m + "[5m]"}}.Encode(), nil)
		if err != nil {
			continue
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			parts = append(parts, m+": "+err.Error())
			continue
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&r)
		resp.Body.Close()
		var ss []string
		for _, x := range r.Data.Result {
			ss = append(ss, fmt.Sprintf("%v: %d samples", x.Metric, len(x.Values)))
		}
		parts = append(parts, fmt.Sprintf("%s: %d series %v", m, len(r.Data.Result), ss))
	}
	return strings.Join(parts, "; ")
}
