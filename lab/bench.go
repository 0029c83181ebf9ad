package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/faultline/faultline/internal/percentile"
)

// BenchResult is what Bench measured.
type BenchResult struct {
	ColdStart   time.Duration // Start called → first successful redirect through the gateway
	LabReady    time.Duration // Start called → Start returned
	Requests    int           // redirects measured per variant
	ProxiedP50  time.Duration // cache-hit redirect through every proxy
	ProxiedP99  time.Duration
	DirectP50   time.Duration // the same through a second lab whose services bypass the proxies
	DirectP99   time.Duration
	Ratio       float64 // ProxiedP50 / DirectP50
	ProxiedErrs int
	DirectErrs  int
}

// Bench measures the cold start of the whole system to its first successful redirect, and
// the cost of the proxies: redirect latency through every proxy vs a second lab, in the same
// run, whose services talk to each other directly. Requests alternate between the two in
// batches so machine noise hits both alike.
func Bench(ctx context.Context, o Options, requests int) (BenchResult, error) {
	if requests <= 0 {
		requests = 2000
	}
	res := BenchResult{Requests: requests}
	begin := time.Now()
	proxied, err := Start(ctx, o)
	if err != nil {
		return res, err
	}
	defer proxied.Close(context.WithoutCancel(ctx))
	res.LabReady = time.Since(begin)
	client := newBenchClient()
	code, err := CreateLink(ctx, client, proxied.Gateway(), "https://example.com/bench")
	if err != nil {
		return res, err
	}
	if _, err := firstRedirect(ctx, client, proxied.Gateway(), code); err != nil {
		return res, err
	}
	res.ColdStart = time.Since(begin)

	o2 := o
	o2.Unproxied = true
	if o2.Dir != "" {
		o2.Dir = o.Dir + "-direct"
	}
	direct, err := Start(ctx, o2)
	if err != nil {
		return res, err
	}
	defer direct.Close(context.WithoutCancel(ctx))
	code2, err := CreateLink(ctx, client, direct.Direct("gateway"), "https://example.com/bench")
	if err != nil {
		return res, err
	}
	if _, err := firstRedirect(ctx, client, direct.Direct("gateway"), code2); err != nil {
		return res, err
	}
	var pLat, dLat []time.Duration
	const batch = 25 // small batches interleave the two finely, so load spikes hit both
	for done := 0; done < requests; done += batch {
		n := min(batch, requests-done)
		lat, errs := redirects(ctx, client, proxied.Gateway(), code, n)
		pLat, res.ProxiedErrs = append(pLat, lat...), res.ProxiedErrs+errs
		lat, errs = redirects(ctx, client, direct.Direct("gateway"), code2, n)
		dLat, res.DirectErrs = append(dLat, lat...), res.DirectErrs+errs
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	slices.Sort(pLat)
	slices.Sort(dLat)
	res.ProxiedP50, res.ProxiedP99 = percentile.Of(pLat, 50), percentile.Of(pLat, 99)
	res.DirectP50, res.DirectP99 = percentile.Of(dLat, 50), percentile.Of(dLat, 99)
	if res.DirectP50 > 0 {
		res.Ratio = float64(res.ProxiedP50) / float64(res.DirectP50)
	}
	return res, nil
}

// newBenchClient keeps connections alive (a new connection per request would measure TCP
// set-up, not the proxies) and never follows redirects.
func newBenchClient() *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CreateLink creates a link through a gateway base URL and returns its code, retrying for a
// few seconds while the system settles.
func CreateLink(ctx context.Context, c *http.Client, gateway, target string) (string, error) {
	body, _ := json.Marshal(map[string]string{"url": target})
	var last error
	for i := 0; i < 50; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/api/links", bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			var out struct{ Code string }
			if resp.StatusCode == http.StatusCreated && json.Unmarshal(b, &out) == nil && out.Code != "" {
				return out.Code, nil
			}
			err = fmt.Errorf("create link: %s: %s", resp.Status, bytes.TrimSpace(b))
		}
		last = err
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("lab: %w", last)
}

// Redirect does one GET /r/{code} and returns its status, X-Cache header and duration.
func Redirect(ctx context.Context, c *http.Client, base, code string) (int, string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/r/"+code, nil)
	if err != nil {
		return 0, "", 0, err
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", time.Since(start), err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Cache"), time.Since(start), nil
}

func firstRedirect(ctx context.Context, c *http.Client, base, code string) (time.Duration, error) {
	var last string
	for i := 0; i < 100; i++ {
		status, _, d, err := Redirect(ctx, c, base, code)
		if err == nil && status == http.StatusFound {
			return d, nil
		}
		last = fmt.Sprintf("status %d err %v", status, err)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("lab: no successful redirect of %s (%s)", code, last)
}

func redirects(ctx context.Context, c *http.Client, base, code string, n int) ([]time.Duration, int) {
	lat := make([]time.Duration, 0, n)
	errs := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
		status, _, d, err := Redirect(ctx, c, base, code)
		if err != nil || status != http.StatusFound {
			errs++
			continue
		}
		lat = append(lat, d)
	}
	return lat, errs
}
