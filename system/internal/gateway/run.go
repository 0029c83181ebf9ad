// Package gateway is the public entry of the shortener: it validates requests, guards each route and relays them to redirect, link and analytics.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/resilience"
	"github.com/faultline/faultline/system/internal/telemetry"
)

// clientTimeout is the last-resort bound of one upstream request; pipelines set the real one.
const clientTimeout = 30 * time.Second

// Run runs the gateway until ctx ends (SIGTERM), then drains in-flight requests.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := config.NewFlagSet("gateway", getenv, stderr)
	common := config.AddCommon(fs)
	redirectURL := config.String(fs, "redirect-url", "REDIRECT_URL", "", "base URL of redirect")
	linkURL := config.String(fs, "link-url", "LINK_URL", "", "base URL of link")
	analyticsURL := config.String(fs, "analytics-url", "ANALYTICS_URL", "", "base URL of analytics")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return nil
		}
		return err
	}
	for _, u := range []struct{ flag, env, v string }{
		{"redirect-url", "REDIRECT_URL", *redirectURL}, {"link-url", "LINK_URL", *linkURL}, {"analytics-url", "ANALYTICS_URL", *analyticsURL},
	} {
		if err := checkURL(u.v); err != nil {
			return config.Usage(fmt.Errorf("gateway: --%s (%s) %q: %w", u.flag, u.env, u.v, err))
		}
	}
	logger, err := common.Logger(stderr, "gateway")
	if err != nil {
		return err
	}
	profile, err := resilience.Load(*common.Profile)
	if err != nil {
		return config.Usage(fmt.Errorf("gateway: %w", err))
	}
	tel, err := telemetry.Setup(ctx, "gateway", getenv, logger)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			logger.Warn("gateway: telemetry shutdown", "err", err)
		}
	}()

	upstream := func(base, edge, peer string) *Upstream {
		return NewUpstream(base, edge, profile.Edge(edge), httpx.NewClient(tel, edge, peer, clientTimeout), tel, logger)
	}
	redirect := upstream(*redirectURL, EdgeRedirect, "redirect")
	link := upstream(*linkURL, EdgeLink, "link")
	analytics := upstream(*analyticsURL, EdgeAnalytics, "analytics")
	ready := map[string]func(context.Context) error{
		"redirect": redirect.Ping, "link": link.Ping, "analytics": analytics.Ping,
	}
	handler := NewServer(logger, tel, profile, Upstreams{Redirect: redirect, Link: link, Analytics: analytics}, ready)

	ln, err := httpx.Listen(*common.Listen)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	logger.Info("gateway: serving", "addr", ln.Addr().String(), "profile", profile.Name)
	err = httpx.Serve(ctx, httpx.NewServer(ln.Addr().String(), handler), ln)
	logger.Info("gateway: stopped", "err", err)
	return err
}

// checkURL accepts an absolute http(s) URL.
func checkURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want a URL like http://127.0.0.1:8081")
	}
	return nil
}
