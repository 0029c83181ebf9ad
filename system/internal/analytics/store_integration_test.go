package analytics

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/systemtest"
)

func newTestStore(t testing.TB) *Store {
	t.Helper()
	pg := systemtest.Postgres(t)
	ctx := context.Background()
	pool, err := OpenPool(ctx, pg.DSN, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := NewStore(pool)
	for range 2 { // migrations are idempotent
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestIntegrationStoreExactlyOnce(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	link := Record{ID: "ev-link-1", Subject: "links.created", Kind: KindLink, Code: "abc", URL: "https://x", Account: "a", At: time.Now()}

	tests := []struct {
		name string
		rec  Record
		want Applied
	}{
		{"first link event", link, Applied{Counted: true}},
		{"same link event again", link, Applied{Duplicate: true}},
		{"click 1", Record{ID: "c1", Subject: "clicks.recorded", Kind: KindClick, Code: "abc"}, Applied{Counted: true}},
		{"click 2", Record{ID: "c2", Subject: "clicks.recorded", Kind: KindClick, Code: "abc"}, Applied{Counted: true}},
		{"click 1 redelivered", Record{ID: "c1", Subject: "clicks.recorded", Kind: KindClick, Code: "abc"}, Applied{Duplicate: true}},
	}
	for _, tt := range tests {
		got, err := s.Apply(ctx, tt.rec)
		if err != nil || got != tt.want {
			t.Errorf("%s: Apply = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	if n, _ := s.LinkEvents(ctx, "abc"); n != 1 {
		t.Errorf("link events = %d, want 1", n)
	}
	if n, _ := s.Clicks(ctx, "abc"); n != 2 {
		t.Errorf("clicks = %d, want 2", n)
	}
	if n, _ := s.Clicks(ctx, "never"); n != 0 {
		t.Errorf("clicks of unknown code = %d, want 0", n)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.ClicksTotal != 2 || st.LinksTotal != 1 || st.Codes["abc"] != 2 || len(st.Links) != 1 || st.Links["abc"] != 1 {
		t.Errorf("Stats = %+v, %v", st, err)
	}
	if _, err := s.Apply(ctx, Record{ID: "", Kind: KindClick, Code: "abc"}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("empty id: err = %v, want ErrInvalidEvent", err)
	}

	// The no-dedup mutant counts a redelivery again: the negative control must be visible.
	s.Dedup = false
	if got, err := s.Apply(ctx, link); err != nil || got != (Applied{Duplicate: true, Counted: true}) {
		t.Errorf("dedup off: Apply = %+v, %v", got, err)
	}
	if n, _ := s.LinkEvents(ctx, "abc"); n != 2 {
		t.Errorf("dedup off: link events = %d, want 2", n)
	}
	if st, err := s.Stats(ctx); err != nil || st.Links["abc"] != 2 || st.LinksTotal != 2 {
		t.Errorf("dedup off: Stats = %+v, %v; want links abc 2", st, err)
	}
}

func TestIntegrationStoreConcurrentDuplicates(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	counted := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := s.Apply(ctx, Record{ID: "same", Subject: "clicks.recorded", Kind: KindClick, Code: "zz"})
			if err != nil {
				t.Error(err)
				return
			}
			if a.Counted {
				mu.Lock()
				counted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n, _ := s.Clicks(ctx, "zz"); counted != 1 || n != 1 {
		t.Errorf("counted %d times, clicks %d; want exactly once", counted, n)
	}
}
