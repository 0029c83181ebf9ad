package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/faultline/faultline/system/topology"
)

// toxiproxyServer is a Toxiproxy API server running in this process.
type toxiproxyServer struct {
	srv  *toxiproxy.ApiServer
	done chan struct{}
	log  *os.File
}

func (t *toxiproxyServer) stop() error {
	var errs []error
	// Clear closes every proxy's listener and connection; Shutdown only ends the API.
	if err := t.srv.Collection.Clear(); err != nil {
		errs = append(errs, fmt.Errorf("lab: toxiproxy clear: %w", err))
	}
	if err := t.srv.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("lab: toxiproxy shutdown: %w", err))
	}
	select {
	case <-t.done:
	case <-time.After(5 * time.Second):
		errs = append(errs, errors.New("lab: toxiproxy did not stop"))
	}
	if t.log != nil {
		_ = t.log.Close()
	}
	return errors.Join(errs...)
}

// startToxiproxy runs Toxiproxy (in-process unless Options.ToxiproxyURL) and creates one
// proxy per edge through its HTTP API, exactly as against a remote one.
func (l *Lab) startToxiproxy(ctx context.Context) error {
	if l.o.ToxiproxyURL != "" {
		l.toxiURL = l.o.ToxiproxyURL
	} else {
		f, err := os.OpenFile(filepath.Join(l.dir, "logs", "toxiproxy.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("lab: toxiproxy log: %w", err)
		}
		// Info logs a line per connection: too much under load.
		logger := zerolog.New(f).Level(zerolog.WarnLevel).With().Timestamp().Logger()
		quietToxics()
		srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), logger)
		addr := hostPort(l.ports["toxiproxy"])
		t := &toxiproxyServer{srv: srv, done: make(chan struct{}), log: f}
		go func() {
			defer close(t.done)
			if err := srv.Listen(addr); err != nil {
				logger.Error().Err(err).Msg("toxiproxy listen")
			}
		}()
		l.tp = t
		l.toxiURL = "http://" + addr
	}
	l.toxi = toxiclient.NewClient(l.toxiURL)
	if err := waitToxiproxy(ctx, l.toxi, 5*time.Second); err != nil {
		return err
	}
	l.logf("lab: toxiproxy API %s", l.toxiURL)
	for _, e := range topology.Edges() {
		upstream := l.addr(e.To)
		if l.tp == nil {
			// A proxy of the same name on a shared Toxiproxy is a leftover: replace it.
			if p, err := l.toxi.Proxy(e.Name); err == nil {
				_ = p.Delete()
			}
		}
		if _, err := l.toxi.CreateProxy(e.Name, l.proxyAddr[e.Name], upstream); err != nil {
			return fmt.Errorf("lab: create proxy %s: %w", e.Name, err)
		}
	}
	return nil
}

// waitToxiproxy polls the API until it answers: Listen gives no ready signal.
func waitToxiproxy(ctx context.Context, c *toxiclient.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.Version()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: toxiproxy did not answer within %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: toxiproxy: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// quietToxics raises zerolog's global level to warn. Toxiproxy's toxics log through
// zerolog's global logger, not the server's, to stderr at trace level: a bandwidth toxic
// wrote a line per interrupted chunk into the explorer's progress output.
func quietToxics() { zerolog.SetGlobalLevel(zerolog.WarnLevel) }
