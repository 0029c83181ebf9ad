package otlp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/otlp"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/toxics"
)

var record = flag.Bool("record", false, "write the spans of the integration run to reports/traces/testdata as a real fixture")

// realFixture is where -record writes; reports/traces tests read it.
const realFixture = "../../reports/traces/testdata/real-link-db-latency"

// RunMeta is what a recorded fixture needs besides its spans.
type RunMeta struct {
	Start  time.Time             `json:"start"`
	Phases []reports.PhaseWindow `json:"phases"`
	Faults []reports.FaultEvent  `json:"faults"`
}

// needSystem fails on CI and skips elsewhere when the stores are not installed, and builds the
// faultline binary the lab re-executes.
func needSystem(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: not with -short")
	}
	for _, find := range []func() (string, error){localserver.PostgresBinDir, localserver.RedisBinary} {
		if _, err := find(); err != nil {
			msg := fmt.Sprintf("%v (Debian packages postgresql and redis-server: run make deps)", err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	bin := filepath.Join(t.TempDir(), "faultline")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/faultline").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/faultline: %v\n%s", err, out)
	}
	return bin
}

// stream sends fn at rate per second from now until the deadline, at most 64 in flight.
func stream(ctx context.Context, wg *sync.WaitGroup, rate float64, until time.Time, fn func(ctx context.Context)) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		sem := make(chan struct{}, 64)
		var inner sync.WaitGroup
		defer inner.Wait()
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if now.After(until) {
					return
				}
			}
			select {
			case sem <- struct{}{}:
			default:
				continue // over the in-flight bound: skip rather than pile up
			}
			inner.Add(1)
			go func() {
				defer inner.Done()
				defer func() { <-sem }()
				fn(ctx)
			}()
		}
	}()
}

// create posts one link, once (lab.CreateLink retries, which would turn a slow link into a
// retry storm the scenario did not ask for).
func create(ctx context.Context, c *http.Client, gateway, target string) (string, error) {
	body, _ := json.Marshal(map[string]string{"url": target})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/api/links", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ Code string }
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&out) != nil || out.Code == "" {
		return "", fmt.Errorf("create: %s", resp.Status)
	}
	return out.Code, nil
}

func get(ctx context.Context, c *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
}

// TestIntegrationLinkDBLatencyTraces runs the real system exporting to the receiver, puts
// 300 ms of latency on link->link-db for 8 s under load, and reads the blast radius back from
// the spans: the create path (gateway→link→link-db) must show it, the trace plumbing must have
// lost nothing.
func TestIntegrationLinkDBLatencyTraces(t *testing.T) {
	bin := needSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	recv := otlp.NewReceiver(otlp.Options{})
	ep, err := recv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close(context.Background())
	l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir(), StateDir: t.TempDir(), Binary: bin, OTLPEndpoint: ep})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	var mu sync.Mutex
	var codes []string
	for i := range 20 {
		code, err := lab.CreateLink(ctx, client, l.Gateway(), fmt.Sprintf("https://example.com/setup/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
	}
	pick := func(i int64) string {
		mu.Lock()
		defer mu.Unlock()
		return codes[int(i)%len(codes)]
	}
	time.Sleep(time.Second) // let set-up spans land before the baseline starts
	recv.Reset()

	const baseline, fault, recovery = 8 * time.Second, 8 * time.Second, 5 * time.Second
	start := time.Now()
	end := start.Add(baseline + fault + recovery)
	var wg sync.WaitGroup
	var n, created atomic.Int64
	stream(ctx, &wg, 30, end, func(ctx context.Context) {
		get(ctx, client, l.Gateway()+"/r/"+pick(n.Add(1)))
	})
	stream(ctx, &wg, 5, end, func(ctx context.Context) {
		code, err := create(ctx, client, l.Gateway(), fmt.Sprintf("https://example.com/run/%d", created.Add(1)))
		if err == nil {
			mu.Lock()
			codes = append(codes, code) // its first redirect is a cache miss
			mu.Unlock()
		}
	})
	stream(ctx, &wg, 3, end, func(ctx context.Context) {
		get(ctx, client, l.Gateway()+"/api/links/"+pick(n.Load())+"/stats")
	})

	time.Sleep(time.Until(start.Add(baseline)))
	f, err := toxics.New("latency", map[string]any{"latency": "300ms"})
	if err != nil {
		t.Fatal(err)
	}
	undo, err := f.Apply(ctx, l.Env(), "link->link-db")
	if err != nil {
		t.Fatal(err)
	}
	applied := time.Since(start).Seconds()
	time.Sleep(time.Until(start.Add(baseline + fault)))
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	healed := time.Since(start).Seconds()
	wg.Wait()

	// The services' batch processors flush every 200 ms: wait until nothing more arrives.
	last := -1
	for i := 0; i < 50 && len(recv.Spans()) != last; i++ {
		last = len(recv.Spans())
		time.Sleep(400 * time.Millisecond)
	}
	spans := recv.Spans()
	st := recv.Stats()
	t.Logf("%d spans, receiver stats %+v", len(spans), st)
	if st.Dropped+st.Rejected+st.BadRequests != 0 {
		t.Errorf("the receiver lost spans: %+v", st)
	}

	phases := []reports.PhaseWindow{
		{Name: reports.PhaseBaseline, StartS: 0, EndS: applied},
		{Name: reports.PhaseFault, StartS: applied, EndS: healed},
		{Name: reports.PhaseRecovery, StartS: healed, EndS: time.Since(start).Seconds()},
	}
	faults := []reports.FaultEvent{{Fault: "latency", Target: "link->link-db", Params: map[string]string{"latency": "300ms"},
		AppliedAt: applied, HealedAt: healed}}
	if *record {
		writeFixture(t, spans, RunMeta{Start: start, Phases: phases, Faults: faults})
	}
	checkRealRun(t, spans, start, phases, faults)
}

// checkRealRun is what any run of this scenario must show.
func checkRealRun(t *testing.T, spans []traces.Span, start time.Time, phases []reports.PhaseWindow, faults []reports.FaultEvent) {
	t.Helper()
	var edges []string
	for _, e := range traces.ServiceMap(spans, phases, start) {
		edges = append(edges, e.From+"->"+e.To)
	}
	for _, want := range []string{"client->gateway", "gateway->redirect", "gateway->link", "gateway->analytics",
		"redirect->redis", "redirect->link", "link->link-db", "link->billing", "analytics->analytics-db"} {
		if !slices.Contains(edges, want) {
			t.Errorf("service map lacks %s: %v", want, edges)
		}
	}
	br := traces.BlastRadius(spans, phases, start, []string{"link->link-db"}, reports.BlastThresholds{}, nil)
	m := traces.Mechanisms(spans, phases, start, faults, nil)
	out, _ := json.MarshalIndent(map[string]any{"blast_radius": br, "mechanisms": m}, "", "  ")
	t.Logf("%s", out)
	for _, want := range []string{"link", "gateway"} {
		if !slices.Contains(br.AffectedServices, want) {
			t.Errorf("%s not affected by 300 ms on link->link-db: %v", want, br.AffectedServices)
		}
	}
	if !slices.Contains(br.AffectedEdges, "link->link-db") {
		t.Errorf("link->link-db not affected: %v", br.AffectedEdges)
	}
	// Latency tails are noisy on a busy 2-core machine; errors are not: the fault must not make
	// analytics or billing fail.
	for _, si := range br.Services {
		if (si.Name == "analytics" || si.Name == "billing") && strings.Contains(si.Why, "error rate") && si.Affected {
			t.Errorf("%s fails more during a fault it is not on: %s", si.Name, si.Why)
		}
	}
	reached := false
	for _, p := range br.Propagation {
		reached = reached || (p.Reached && slices.Equal(p.Path, []string{"link-db", "link", "gateway"}))
	}
	if !reached {
		t.Errorf("no propagation link-db → link → gateway reaching the entry: %+v", br.Propagation)
	}
}

func writeFixture(t *testing.T, spans []traces.Span, meta RunMeta) {
	t.Helper()
	f, err := os.Create(realFixture + ".spans.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := traces.WriteSpansGzip(f, spans); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(realFixture+".run.json", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d spans to %s", len(spans), realFixture)
}
