package compose

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// Forwarder relays OTLP/HTTP export requests from containers to the runner's trace receiver,
// which listens on the lab's loopback: the one way spans from a container reach the lab, for
// the compose and the containers backends alike.
type Forwarder struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// StartForwarder listens on listen (host:port; port 0 picks one) and relays to target
// (http://host:port of the receiver).
func StartForwarder(listen, target string) (*Forwarder, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("compose: otlp endpoint %q: want http://host:port", target)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("compose: otlp forwarder: %w", err)
	}
	f := &Forwarder{ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: httputil.NewSingleHostReverseProxy(u), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln)
	}()
	return f, nil
}

// Addr is where the forwarder listens.
func (f *Forwarder) Addr() string { return f.ln.Addr().String() }

// Close lets requests in flight finish (up to 5 s), then stops.
func (f *Forwarder) Close(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(sctx); err != nil {
		_ = f.srv.Close()
	}
	<-f.done
}
