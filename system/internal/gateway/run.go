// Package gateway is the public entry of the shortener: it validates requests, guards each route and relays them to redirect, link and analytics.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/httpx"
	"github.com/faultline/faultline/system/internal/service"
)

// Run runs the gateway until ctx ends (SIGTERM), then drains in-flight requests.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := service.New("gateway", getenv, stderr)
	redirectURL := config.String(s.Flags, "redirect-url", "REDIRECT_URL", "", "base URL of redirect")
	linkURL := config.String(s.Flags, "link-url", "LINK_URL", "", "base URL of link")
	analyticsURL := config.String(s.Flags, "analytics-url", "ANALYTICS_URL", "", "base URL of analytics")
	if err := s.Parse(args); err != nil {
		return err
	}
	for _, u := range []struct{ flag, env, v string }{
		{"redirect-url", "REDIRECT_URL", *redirectURL}, {"link-url", "LINK_URL", *linkURL}, {"analytics-url", "ANALYTICS_URL", *analyticsURL},
	} {
		if err := checkURL(u.v); err != nil {
			return config.Usage(fmt.Errorf("gateway: --%s (%s) %q: %w", u.flag, u.env, u.v, err))
		}
	}
	return s.Run(ctx, func(ctx context.Context, env *service.Env) error {
		upstream := func(base, edge, peer string) *Upstream {
			return NewUpstream(base, edge, env.Profile.Edge(edge), httpx.NewClient(env.Tel, edge, peer, env.Profile.Limits.ConnectTimeout.D()), env.Tel, env.Logger)
		}
		redirect := upstream(*redirectURL, EdgeRedirect, "redirect")
		link := upstream(*linkURL, EdgeLink, "link")
		analytics := upstream(*analyticsURL, EdgeAnalytics, "analytics")
		ready := map[string]func(context.Context) error{
			"redirect": redirect.Ping, "link": link.Ping, "analytics": analytics.Ping,
		}
		handler := NewServer(env.Logger, env.Tel, env.Profile, Upstreams{Redirect: redirect, Link: link, Analytics: analytics}, ready)
		err := env.Serve(ctx, handler)
		env.Logger.Info("gateway: stopped", "err", err)
		return err
	})
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
