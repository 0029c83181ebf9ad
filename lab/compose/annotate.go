package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/system/topology"
)

// Grafana is where fault annotations go (the scenario dashboard shows tag "fault").
type Grafana struct {
	URL      string // e.g. http://grafana:3000; empty = no annotations
	User     string
	Password string
}

// annotator marks faults on Grafana's timeline as regions. It watches the truth, not the
// runner: the stack's proxies (toxics, disabled) and containers (paused, stopped), so a fault
// injected by hand (toxiproxy-cli, faultline inject) shows too.
type annotator struct {
	g      Grafana
	client *http.Client
	state  func(ctx context.Context) map[string]string // fault key -> description

	mu     sync.Mutex
	active map[string]int64 // fault key -> annotation id
	errs   int
}

func newAnnotator(g Grafana, state func(context.Context) map[string]string) *annotator {
	return &annotator{g: g, client: &http.Client{Timeout: 5 * time.Second}, state: state, active: map[string]int64{}}
}

// run polls until ctx ends, then closes every open region.
func (a *annotator) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.poll(ctx)
		select {
		case <-ctx.Done():
			a.closeAll(context.WithoutCancel(ctx))
			return
		case <-t.C:
		}
	}
}

// poll opens a region for each new fault and closes the regions of healed ones.
func (a *annotator) poll(ctx context.Context) {
	// One poll at a time, state read under the lock: a stale view must not close what a
	// newer one opened.
	a.mu.Lock()
	defer a.mu.Unlock()
	faults := a.state(ctx)
	if faults == nil {
		return // state unknown this time: change nothing
	}
	now := time.Now()
	keys := make([]string, 0, len(faults))
	for k := range faults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, open := a.active[k]; open {
			continue
		}
		target, _, _ := strings.Cut(k, "|")
		id, err := a.post(ctx, now, target, faults[k])
		if err != nil {
			a.errs++
			continue
		}
		a.active[k] = id
	}
	for k, id := range a.active {
		if _, still := faults[k]; !still {
			if err := a.end(ctx, id, now); err != nil {
				a.errs++
			}
			delete(a.active, k)
		}
	}
}

func (a *annotator) closeAll(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for k, id := range a.active {
		_ = a.end(ctx, id, now)
		delete(a.active, k)
	}
}

func (a *annotator) post(ctx context.Context, at time.Time, target, text string) (int64, error) {
	body := map[string]any{"time": at.UnixMilli(), "timeEnd": at.UnixMilli(), "tags": []string{"faultline", "fault", target}, "text": text}
	var out struct {
		ID int64 `json:"id"`
	}
	if err := a.call(ctx, http.MethodPost, "/api/annotations", body, &out); err != nil {
		return 0, err
	}
	return out.ID, nil
}

func (a *annotator) end(ctx context.Context, id int64, at time.Time) error {
	return a.call(ctx, http.MethodPatch, fmt.Sprintf("/api/annotations/%d", id), map[string]any{"timeEnd": at.UnixMilli()}, nil)
}

func (a *annotator) call(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.g.URL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.g.User != "" {
		req.SetBasicAuth(a.g.User, a.g.Password)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("compose: grafana %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("compose: grafana %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	if out != nil {
		return json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(out)
	}
	return nil
}

// proxyFaults describes what is wrong with the proxies: a key per toxic and per disabled
// proxy ("EDGE|what"). Nil when the API does not answer.
func proxyFaults(proxies map[string]*toxiclient.Proxy) map[string]string {
	out := map[string]string{}
	for _, e := range topology.Edges() {
		p, ok := proxies[e.Name]
		if !ok {
			continue
		}
		if !p.Enabled {
			out[e.Name+"|disabled"] = "partition on " + e.Name + " (proxy disabled)"
		}
		for _, t := range p.ActiveToxics {
			var attrs []string
			for k, v := range t.Attributes {
				attrs = append(attrs, fmt.Sprintf("%s=%v", k, v))
			}
			sort.Strings(attrs)
			out[e.Name+"|toxic:"+t.Name] = fmt.Sprintf("%s on %s (%s %s, toxicity %.2g)", t.Type, e.Name, t.Stream, strings.Join(attrs, " "), t.Toxicity)
		}
	}
	return out
}

// faults is the annotator's view of the stack.
func (s *System) faults(ctx context.Context) map[string]string {
	proxies, err := s.toxi.Proxies()
	if err != nil {
		return nil
	}
	out := proxyFaults(proxies)
	if s.docker == nil {
		return out
	}
	for _, c := range topology.Components() {
		id, err := s.container(ctx, c)
		if err != nil {
			continue
		}
		st, err := s.docker.Inspect(ctx, id)
		if err != nil {
			return nil
		}
		switch {
		case st.Paused:
			out[c+"|paused"] = c + " paused"
		case !st.Running:
			out[c+"|stopped"] = c + " not running (crashed or killed)"
		}
	}
	return out
}
