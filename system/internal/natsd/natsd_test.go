package natsd

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/config"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRunServesUntilCancelled(t *testing.T) {
	addr, mon := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, []string{"--listen", addr, "--store-dir", t.TempDir(), "--http-listen", mon}, func(string) string { return "" }, io.Discard)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + mon + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("monitoring /healthz never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, err := net.Dial("tcp", addr); err != nil {
		t.Fatalf("client port: %v", err)
	} else {
		c.Close()
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Fatal("still listening after shutdown")
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--listen", "nope"}, {"--bogus"}, {"--http-listen", "x:y"}} {
		err := Run(context.Background(), args, func(string) string { return "" }, io.Discard)
		if err == nil {
			t.Errorf("%v accepted", args)
		}
		if !errors.Is(err, config.ErrUsage) {
			t.Errorf("%v: %v, want usage error", args, err)
		}
	}
}
