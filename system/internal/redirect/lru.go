package redirect

import (
	"container/list"
	"sync"
)

// staleCache is a small bounded LRU of recently resolved codes. It is the stale_cache fallback:
// when link cannot answer, a code resolved a moment ago still redirects. It lives in process
// memory on purpose, so it survives a Redis outage too.
type staleCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recently used
	items map[string]*list.Element
}

type staleEntry struct {
	code, url string
}

// newStaleCache returns an LRU holding at most max entries; max < 1 disables it.
func newStaleCache(max int) *staleCache {
	return &staleCache{max: max, order: list.New(), items: make(map[string]*list.Element)}
}

// Put records code → url, evicting the least recently used entry when full.
func (c *staleCache) Put(code, url string) {
	if c == nil || c.max < 1 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[code]; ok {
		el.Value.(*staleEntry).url = url
		c.order.MoveToFront(el)
		return
	}
	c.items[code] = c.order.PushFront(&staleEntry{code: code, url: url})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*staleEntry).code)
	}
}

// Get returns the url last recorded for code.
func (c *staleCache) Get(code string) (string, bool) {
	if c == nil || c.max < 1 {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[code]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(el)
	return el.Value.(*staleEntry).url, true
}

// Delete forgets code (link said it does not exist).
func (c *staleCache) Delete(code string) {
	if c == nil || c.max < 1 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[code]; ok {
		c.order.Remove(el)
		delete(c.items, code)
	}
}

// Len is the number of entries held.
func (c *staleCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
