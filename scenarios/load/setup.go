package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// SetupOptions tune Setup; zero fields take defaults.
type SetupOptions struct {
	Concurrency int           // parallel creations, default 8
	Retries     int           // per link on 429, 5xx and transport errors, default 3
	Timeout     time.Duration // per request, default 5s
	AllowRemote bool
	// Seed goes into the created URLs (https://example.com/setup/SEED/I), so runs with
	// different seeds create distinguishable links.
	Seed int64
}

// MaxSetupLinks bounds Setup.
const MaxSetupLinks = 100000

// Setup creates n links through the gateway (POST /api/links) and returns their codes in
// creation-index order, so a seeded pick over them replays the same mix. It retries
// transient failures with backoff and fails on the first link that cannot be created.
func Setup(ctx context.Context, target string, n int, opts SetupOptions) ([]string, error) {
	if n < 0 || n > MaxSetupLinks {
		return nil, fmt.Errorf("load: setup %d links: want 0..%d", n, MaxSetupLinks)
	}
	base, err := CheckTarget(ctx, target, opts.AllowRemote)
	if err != nil {
		return nil, err
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Retries <= 0 {
		opts.Retries = 3
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	client := &http.Client{
		Timeout:   opts.Timeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: opts.Concurrency},
	}
	defer client.CloseIdleConnections()
	url := strings.TrimSuffix(base.String(), "/") + "/api/links"

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	codes := make([]string, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(opts.Concurrency, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				code, err := createLink(ctx, client, url, opts.Seed, i, opts.Retries)
				if err != nil {
					cancel(err)
					continue
				}
				codes[i] = code
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("load: setup: %w", err)
	}
	return codes, nil
}

func createLink(ctx context.Context, client *http.Client, url string, seed int64, i, retries int) (string, error) {
	body := fmt.Sprintf(`{"url": "https://example.com/setup/%d/%d", "account": "acct-%d"}`, seed, i, i%10+1)
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		code, retry, err := postLink(ctx, client, url, body)
		if err == nil {
			return code, nil
		}
		last = err
		if !retry {
			break
		}
	}
	return "", fmt.Errorf("link %d: %w", i, last)
}

// errBadReply marks an answer that retrying will not fix.
var errBadReply = errors.New("unexpected reply")

func postLink(ctx context.Context, client *http.Client, url, body string) (code string, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", true, err
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return "", true, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", false, fmt.Errorf("%w: status %d: %s", errBadReply, resp.StatusCode, bytes.TrimSpace(raw))
	}
	var link struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(raw, &link); err != nil || link.Code == "" {
		return "", false, fmt.Errorf("%w: no code in %s", errBadReply, bytes.TrimSpace(raw))
	}
	return link.Code, false, nil
}
