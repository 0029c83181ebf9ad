// Package system runs one component of the URL shortener (gateway, link, redirect, analytics, billing, nats) by name.
package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/faultline/faultline/system/internal/analytics"
	"github.com/faultline/faultline/system/internal/billing"
	"github.com/faultline/faultline/system/internal/config"
	"github.com/faultline/faultline/system/internal/gateway"
	"github.com/faultline/faultline/system/internal/link"
	"github.com/faultline/faultline/system/internal/natsd"
	"github.com/faultline/faultline/system/internal/redirect"
)

// RunFunc runs one component until ctx is done; it parses its own flags from args.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error

// components is the dispatch table: one entry per `faultline serve NAME`.
var components = map[string]struct {
	run  RunFunc
	help string
}{
	"gateway":   {gateway.Run, "public entry: /r/{code}, /api/links, /api/links/{code}, /api/links/{code}/stats"},
	"link":      {link.Run, "creates links (PostgreSQL + outbox), asks billing for quota"},
	"redirect":  {redirect.Run, "resolves codes (Redis cache, link on miss), publishes clicks"},
	"analytics": {analytics.Run, "counts clicks and links from JetStream into PostgreSQL"},
	"billing":   {billing.Run, "accounts, plans, quota and usage (SQLite)"},
	"nats":      {natsd.Run, "embedded NATS server with JetStream"},
}

// ErrUsage matches every error caused by bad arguments: an unknown component, a bad flag or
// environment value.
var ErrUsage = config.ErrUsage

// Components lists the component names, sorted.
func Components() []string {
	names := make([]string, 0, len(components))
	for n := range components {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Help describes each component in one line each.
func Help() string {
	var b strings.Builder
	for _, n := range Components() {
		fmt.Fprintf(&b, "  %-10s %s\n", n, components[n].help)
	}
	return b.String()
}

// Run runs component with its flags in args (environment equivalents come from getenv; a flag
// wins) until ctx is done. A help request prints usage and returns nil.
func Run(ctx context.Context, component string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, ok := components[component]
	if !ok {
		return config.Usage(fmt.Errorf("system: unknown component %q, want one of %s", component, strings.Join(Components(), ", ")))
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	err := c.run(ctx, args, getenv, stderr)
	if errors.Is(err, config.ErrHelp) {
		return nil
	}
	return err
}
