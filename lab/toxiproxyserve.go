package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	// The lab's Toxiproxy serves the request-level toxics as well as the stock ones.
	_ "github.com/faultline/faultline/toxics/httptoxic"
)

// ServeToxiproxy runs the lab's Toxiproxy build (the stock toxics plus http_error,
// http_latency and http_reset) as a standalone server on addr until ctx ends: what the
// compose stack runs instead of the stock image, so the API, toxiproxy-cli and the lab see
// the same toxic types everywhere. config, when set, is a Toxiproxy proxies file created at
// start, like the stock server's -config.
func ServeToxiproxy(ctx context.Context, addr, config string, logw io.Writer) error {
	if config != "" {
		if _, err := os.Stat(config); err != nil {
			return fmt.Errorf("lab: toxiproxy config: %w", err)
		}
	}
	logger := zerolog.New(logw).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	quietToxics()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), logger)
	done := make(chan error, 1)
	go func() { done <- srv.Listen(addr) }()
	c := toxiclient.NewClient("http://" + addr)
	if err := waitToxiproxy(ctx, c, 5*time.Second); err != nil {
		select {
		case lerr := <-done:
			return fmt.Errorf("lab: toxiproxy on %s: %w", addr, lerr)
		default:
		}
		if ctx.Err() == nil {
			_ = srv.Shutdown()
			return err
		}
		// Stopped as asked before this wait saw the server answer (a caller that found it up
		// on its own can finish and cancel within one poll): a clean stop, once the server has
		// (it may still be starting, when a shutdown finds nothing to stop yet).
		for range 100 {
			_ = srv.Shutdown()
			select {
			case <-done:
				return nil
			case <-time.After(20 * time.Millisecond):
			}
		}
		return errors.New("lab: toxiproxy did not stop within 2s of the stop asked at its start")
	}
	if config != "" {
		srv.PopulateConfig(config)
	}
	fmt.Fprintf(logw, "toxiproxy (faultline build, request-level toxics included) on %s\n", addr)
	select {
	case <-ctx.Done():
	case err := <-done:
		if ctx.Err() == nil {
			return fmt.Errorf("lab: toxiproxy: %w", err)
		}
		// Stopped as asked, and the server noticed first: the shutdown below reads it back.
		done <- err
	}
	errs := []error{srv.Collection.Clear(), srv.Shutdown()}
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) && err.Error() != "http: Server closed" {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
