package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	zlog "github.com/rs/zerolog/log"

	"github.com/faultline/faultline/internal/localserver"
)

// TestServeToxiproxyHasRequestLevelToxics: the standalone server (what compose runs) accepts,
// lists and removes http_error through the stock API, and stops with its context. (A pair name
// per run: a removed pair's name is free again only once collected, see httptoxic.groups.)
func TestServeToxiproxyHasRequestLevelToxics(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeToxiproxy(ctx, addr, "", io.Discard) }()
	c := toxiclient.NewClient("http://" + addr)
	if err := waitToxiproxy(ctx, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p, err := c.CreateProxy("e", "127.0.0.1:0", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	// toxics log through zerolog's global logger (a bandwidth toxic: a trace line per
	// interrupted chunk, on stderr, in the middle of explore's progress)
	if zlog.Trace().Enabled() || zlog.Debug().Enabled() {
		t.Errorf("zerolog's global logger still writes trace or debug lines once Toxiproxy runs")
	}
	attrs := toxiclient.Attributes{"role": "requests", "pair": fmt.Sprintf("serve-test-%d", time.Now().UnixNano()), "status": 503, "share": 0.5}
	if _, err := p.AddToxic("x", "http_error", "upstream", 1, attrs); err != nil {
		t.Fatalf("add http_error: %v", err)
	}
	list, err := p.Toxics()
	if err != nil || len(list) != 1 || list[0].Type != "http_error" || list[0].Attributes["counters"] == nil {
		t.Fatalf("list: %+v, %v; want the http_error with its counters", list, err)
	}
	if err := p.RemoveToxic("x"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	// net/http's Shutdown waits up to 5 s for a connection accepted but never sent a request
	// (StateNew counts as idle only after 5 s): the client's transport may dial one it then
	// does not use. CI saw the stop take just over 5 s once (2026-12-03); 10 s bounds it.
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop within 10 s")
	}
}

// TestServeToxiproxyStoppedWhileStarting: a stop asked for before the server first answered
// is a clean stop (nil), not the start-up wait's "context canceled" — CI saw that error when a
// caller finished within one poll of the start.
func TestServeToxiproxyStoppedWhileStarting(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ServeToxiproxy(ctx, addr, "", io.Discard); err != nil {
		t.Fatalf("stop asked at start: %v, want a clean stop", err)
	}
	if ln, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("the address is still held after the stop: %v", err)
	} else {
		ln.Close()
	}
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
