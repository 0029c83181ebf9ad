package redirect

import (
	"fmt"
	"testing"
)

func TestStaleCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newStaleCache(2)
	c.Put("a", "https://a")
	c.Put("b", "https://b")
	if _, ok := c.Get("a"); !ok { // a becomes most recent
		t.Fatal("a missing")
	}
	c.Put("c", "https://c") // evicts b
	tests := []struct {
		code, want string
		ok         bool
	}{
		{"a", "https://a", true},
		{"b", "", false},
		{"c", "https://c", true},
	}
	for _, tt := range tests {
		got, ok := c.Get(tt.code)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.code, got, ok, tt.want, tt.ok)
		}
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
}

func TestStaleCacheUpdateAndDelete(t *testing.T) {
	c := newStaleCache(4)
	c.Put("a", "https://old")
	c.Put("a", "https://new")
	if got, _ := c.Get("a"); got != "https://new" {
		t.Errorf("Get(a) = %q, want https://new", got)
	}
	c.Delete("a")
	if _, ok := c.Get("a"); ok {
		t.Error("a still present after Delete")
	}
}

func TestStaleCacheBounded(t *testing.T) {
	c := newStaleCache(100)
	for i := range 1000 {
		c.Put(fmt.Sprint(i), "u")
	}
	if c.Len() != 100 {
		t.Errorf("Len = %d, want 100", c.Len())
	}
	if _, ok := c.Get("999"); !ok {
		t.Error("newest entry evicted")
	}
}

func TestStaleCacheDisabled(t *testing.T) {
	for _, c := range []*staleCache{nil, newStaleCache(0)} {
		c.Put("a", "u")
		if _, ok := c.Get("a"); ok {
			t.Error("disabled cache returned an entry")
		}
	}
}
