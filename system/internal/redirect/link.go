package redirect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/faultline/faultline/system/internal/resilience"
)

// maxLinkBody bounds what redirect reads from link per answer.
const maxLinkBody = 64 << 10

// LinkClient is LinkLookup over link's HTTP API, through the redirect->link pipeline.
type LinkClient struct {
	base   string
	client *http.Client
	pipe   *resilience.HTTPPipeline
}

// NewLinkClient calls link at base (LINK_URL) with client through pipe.
func NewLinkClient(base string, client *http.Client, pipe *resilience.HTTPPipeline) *LinkClient {
	return &LinkClient{base: strings.TrimRight(base, "/"), client: client, pipe: pipe}
}

// Lookup implements LinkLookup. A 404 is an answer (ErrNotFound), not a failure: the pipeline
// neither retries it nor counts it against the breaker.
func (l *LinkClient) Lookup(ctx context.Context, code string) (string, error) {
	resp, err := l.pipe.Do(ctx, func(ctx context.Context) (*http.Response, error) {
		return bufferedGet(ctx, l.client, l.base+"/links/"+url.PathEscape(code))
	}, nil)
	if err != nil {
		return "", fmt.Errorf("redirect: link: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return "", fmt.Errorf("%w: %s", ErrNotFound, code)
	default:
		return "", fmt.Errorf("redirect: link answered %d", resp.StatusCode)
	}
	var body struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("redirect: link answer: %w", err)
	}
	if body.URL == "" {
		return "", fmt.Errorf("redirect: link answer without url")
	}
	return body.URL, nil
}

// Ping checks link is up via its /healthz (for /readyz), outside the pipeline so readiness
// probes never move the breaker.
func (l *LinkClient) Ping(ctx context.Context) error {
	resp, err := bufferedGet(ctx, l.client, l.base+"/healthz")
	if err != nil {
		return fmt.Errorf("redirect: link: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("redirect: link /healthz answered %d", resp.StatusCode)
	}
	return nil
}

// bufferedGet reads the whole answer inside the attempt: the pipeline cancels an attempt's
// context as soon as the attempt returns, which would cut a body read afterwards, and the
// per-attempt timeout should cover the body too.
func bufferedGet(ctx context.Context, c *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxLinkBody))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}
