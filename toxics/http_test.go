package toxics

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestHTTPErrorAppliesAndHeals: through the fault interface, every request gets the toxic's
// answer, a second answering fault on the edge is refused, and the undo (twice) removes both
// halves so requests pass again.
func TestHTTPErrorAppliesAndHeals(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	status := func() int {
		t.Helper()
		resp, err := http.Get("http://" + e.listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	undo, err := mustNew(t, "http_error", map[string]any{"status": 503, "share": 1, "retry_after": "3s"}).Apply(ctx, e, "client->echo")
	if err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 503 {
		t.Errorf("with the fault: got %d, want 503", got)
	}
	p, _ := e.client.Proxy("client->echo")
	if len(p.ActiveToxics) != 2 {
		t.Errorf("toxics: got %d, want the two halves", len(p.ActiveToxics))
	}
	for _, tx := range p.ActiveToxics {
		if !strings.HasPrefix(tx.Name, ToxicPrefix) {
			t.Errorf("toxic %s: want the %s prefix so heal finds it", tx.Name, ToxicPrefix)
		}
	}
	if _, err := mustNew(t, "http_reset", map[string]any{"share": 0.5}).Apply(ctx, e, "client->echo"); err == nil ||
		!strings.Contains(err.Error(), "one http_error or http_reset per edge") {
		t.Errorf("second answering fault: got %v, want it refused", err)
	}
	lat, err := mustNew(t, "http_latency", map[string]any{"latency": "1ms", "share": 0.5}).Apply(ctx, e, "client->echo")
	if err != nil {
		t.Errorf("http_latency beside http_error: %v", err)
	} else {
		_ = lat(ctx)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 200 {
		t.Errorf("healed: got %d, want 200", got)
	}
	p, _ = e.client.Proxy("client->echo")
	if len(p.ActiveToxics) != 0 {
		t.Errorf("toxics left: %+v", p.ActiveToxics)
	}
}
