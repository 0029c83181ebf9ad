package redirect

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// memCache is an in-memory Cache; down makes every call fail like an unreachable Redis.
type memCache struct {
	mu   sync.Mutex
	m    map[string]string
	down bool
	sets int
}

func newMemCache() *memCache { return &memCache{m: map[string]string{}} }

var errRedisDown = errors.New("dial tcp: connection refused")

func (c *memCache) Get(_ context.Context, code string) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return "", false, errRedisDown
	}
	v, ok := c.m[code]
	if !ok {
		return "", false, ErrCacheMiss
	}
	if v == notFoundValue {
		return "", false, nil
	}
	return v, true, nil
}

func (c *memCache) Set(_ context.Context, code, url string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errRedisDown
	}
	c.sets++
	c.m[code] = url
	return nil
}

func (c *memCache) SetNotFound(ctx context.Context, code string) error {
	return c.Set(ctx, code, notFoundValue)
}

func (c *memCache) Ping(context.Context) error {
	if c.down {
		return errRedisDown
	}
	return nil
}

// fakeLinks answers from a map; err, when set, is returned for every lookup.
type fakeLinks struct {
	mu    sync.Mutex
	urls  map[string]string
	err   error
	calls int
}

func (l *fakeLinks) Lookup(_ context.Context, code string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.err != nil {
		return "", l.err
	}
	u, ok := l.urls[code]
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrNotFound, code)
	}
	return u, nil
}
