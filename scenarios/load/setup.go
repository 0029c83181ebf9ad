package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SetupOptions tune Setup; zero fields take defaults.
type SetupOptions struct {
	Concurrency int           // creations in flight at once, default 4
	Retries     int           // per link on 5xx and transport errors, default 3 (429s are waited out, not counted)
	Timeout     time.Duration // per request, default 5s
	// Rate is the pace to start at, creations per second, default 200. A 429 lowers it to 75%
	// for the rest of the setup.
	Rate        float64
	AllowRemote bool
	// Seed goes into the created URLs (https://example.com/setup/SEED/I), so runs with
	// different seeds create distinguishable links.
	Seed int64
}

// Setup defaults.
const (
	DefaultSetupConcurrency = 4
	DefaultSetupRate        = 200
	maxRetryAfter           = 30 * time.Second // a longer Retry-After is waited this long
)

// MaxSetupLinks bounds Setup.
const MaxSetupLinks = 100000

// SetupResult is what Setup created and how it went.
type SetupResult struct {
	Links     []Link        // in creation-index order, each with the URL it was created with
	Throttled int           // 429 answers waited out
	Took      time.Duration // from the first request to the last answer
}

// Codes returns the links' codes, in creation-index order.
func (r SetupResult) Codes() []string {
	out := make([]string, len(r.Links))
	for i, l := range r.Links {
		out[i] = l.Code
	}
	return out
}

// Setup creates n links through the gateway (POST /api/links) and returns them in
// creation-index order, so a seeded pick over their codes replays the same mix. It paces
// itself from the gateway's answers alone: a few creations at a time, every 429 waited out for
// its Retry-After by all of them, the pace lowered after it. 5xx and transport errors are
// retried with backoff; setup fails on the first link that cannot be created, or when ctx ends.
func Setup(ctx context.Context, target string, n int, opts SetupOptions) (SetupResult, error) {
	if n < 0 || n > MaxSetupLinks {
		return SetupResult{}, fmt.Errorf("load: setup %d links: want 0..%d", n, MaxSetupLinks)
	}
	base, err := CheckTarget(ctx, target, opts.AllowRemote)
	if err != nil {
		return SetupResult{}, err
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultSetupConcurrency
	}
	if opts.Retries <= 0 {
		opts.Retries = 3
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Rate <= 0 {
		opts.Rate = DefaultSetupRate
	}
	s := &setup{
		client: &http.Client{
			Timeout:   opts.Timeout,
			Transport: &http.Transport{MaxIdleConnsPerHost: opts.Concurrency},
		},
		url:   strings.TrimSuffix(base.String(), "/") + "/api/links",
		opts:  opts,
		pacer: newSetupPacer(opts.Rate),
	}
	defer s.client.CloseIdleConnections()

	began := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	links := make([]Link, n)
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error // a link's own error names it and its last answer: better than ctx's
	)
	for range min(opts.Concurrency, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				l, err := s.create(ctx, i)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					cancel(err)
					continue
				}
				links[i] = l
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
	res := SetupResult{Throttled: int(s.throttled.Load()), Took: time.Since(began)}
	if firstErr == nil {
		firstErr = context.Cause(ctx)
	}
	if firstErr != nil {
		if last, ok := s.refusal.Load().(error); ok {
			firstErr = fmt.Errorf("%w; %d answers were 429 (last: %v)", firstErr, res.Throttled, last)
		}
		return res, fmt.Errorf("load: setup: %w", firstErr)
	}
	res.Links = links
	return res, nil
}

// setup is one Setup call's shared state.
type setup struct {
	client    *http.Client
	url       string
	opts      SetupOptions
	pacer     *setupPacer
	throttled atomic.Int64
	refusal   atomic.Value // error: the last 429, named when the deadline ends setup
}

// create creates link i: 429s are waited out (bounded by ctx), other transient failures are
// retried up to opts.Retries times.
func (s *setup) create(ctx context.Context, i int) (Link, error) {
	url := fmt.Sprintf("https://example.com/setup/%d/%d", s.opts.Seed, i)
	body := fmt.Sprintf(`{"url": %q, "account": "acct-%d"}`, url, i%10+1)
	var last error
	for failures := 0; ; {
		if err := s.pacer.wait(ctx); err != nil {
			if last != nil {
				err = fmt.Errorf("%w (last answer: %v)", err, last)
			}
			return Link{}, fmt.Errorf("link %d: %w", i, err)
		}
		sent := time.Now()
		code, ans, err := postLink(ctx, s.client, s.url, body)
		switch {
		case err == nil:
			return Link{Code: code, URL: url}, nil
		case ans.throttled:
			s.throttled.Add(1)
			s.refusal.Store(err)
			s.pacer.throttled(sent, ans.retryAfter)
			last = err
			continue
		case !ans.retry:
			return Link{}, fmt.Errorf("link %d: %w", i, err)
		}
		last = err
		if failures++; failures > s.opts.Retries {
			return Link{}, fmt.Errorf("link %d: %w", i, err)
		}
		select {
		case <-time.After(max(time.Duration(50<<failures)*time.Millisecond, ans.retryAfter)):
		case <-ctx.Done():
			return Link{}, fmt.Errorf("link %d: %w (last answer: %v)", i, ctx.Err(), last)
		}
	}
}

// setupPacer spaces the creations of all workers. On a 429 every worker waits out the
// Retry-After and the pace drops to 75% of the refused one for good: each 429 costs a whole
// Retry-After, so the pace settles below the limit rather than probing it again. The gateway's
// limit is read from nowhere: the 429s are the only signal, so any profile (or none) works.
type setupPacer struct {
	mu        sync.Mutex
	rate      float64   // per second
	lastSent  time.Time // when the last creation was let go
	resume    time.Time // no creation before this: the last Retry-After
	lastThrot time.Time // when the pace was last lowered
}

const minSetupRate = 1.0

func newSetupPacer(rate float64) *setupPacer { return &setupPacer{rate: rate} }

// wait blocks until the caller may send its next creation. The spacing is kept between the
// moments creations are let go, not between reserved slots, so a worker whose timer fires
// late on a busy machine cannot send on the heels of another.
func (p *setupPacer) wait(ctx context.Context) error {
	for {
		p.mu.Lock()
		now := time.Now()
		at := p.lastSent.Add(time.Duration(float64(time.Second) / p.rate))
		if p.resume.After(at) {
			at = p.resume
		}
		if !now.Before(at) {
			p.lastSent = now
			p.mu.Unlock()
			return ctx.Err()
		}
		p.mu.Unlock()
		t := time.NewTimer(at.Sub(now))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// throttled reacts to a 429 answering a creation sent at sent. Creations already in flight
// when the pace was lowered were sent at the old pace: their 429s only extend the wait.
func (p *setupPacer) throttled(sent time.Time, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if resume := now.Add(retryAfter); resume.After(p.resume) {
		p.resume = resume
	}
	if sent.Before(p.lastThrot) {
		return
	}
	p.lastThrot = now
	p.rate = max(minSetupRate, 0.75*p.rate)
}

// answer classifies a failed creation.
type answer struct {
	retry      bool          // transient: 5xx or a transport error
	throttled  bool          // 429: wait out retryAfter and send again
	retryAfter time.Duration // from Retry-After (1s for a 429 without one)
}

// errBadReply marks an answer that retrying will not fix.
var errBadReply = errors.New("unexpected reply")

func postLink(ctx context.Context, client *http.Client, url, body string) (string, answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return "", answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", answer{retry: ctx.Err() == nil}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", answer{retry: true}, err
	}
	after := retryAfter(resp.Header.Get("Retry-After"), time.Now())
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if after == 0 {
			after = time.Second
		}
		return "", answer{throttled: true, retryAfter: after}, fmt.Errorf("status 429: %s", bytes.TrimSpace(raw))
	case resp.StatusCode >= 500:
		return "", answer{retry: true, retryAfter: after}, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	case resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK:
		return "", answer{}, fmt.Errorf("%w: status %d: %s", errBadReply, resp.StatusCode, bytes.TrimSpace(raw))
	}
	code := codeOf(raw)
	if code == "" {
		return "", answer{}, fmt.Errorf("%w: no code in %s", errBadReply, bytes.TrimSpace(raw))
	}
	return code, answer{}, nil
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped at maxRetryAfter;
// 0 when absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// codeOf is the "code" of a created link's JSON answer, "" when there is none.
func codeOf(body []byte) string {
	var link struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &link) != nil {
		return ""
	}
	return link.Code
}
