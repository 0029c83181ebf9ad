package lab

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/faultline/faultline/system/topology"
)

// TestCLIAgainstUp drives a running `faultline up` from "another shell": inject, status and
// heal find it through the state file.
func TestCLIAgainstUp(t *testing.T) {
	_, st, stateDir, _ := upProcess(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, append(args, "--state-dir", stateDir)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("faultline %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	status := func() Status {
		t.Helper()
		var s Status
		if err := json.Unmarshal([]byte(run("status", "--json")), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	state := func(s Status, name string) string {
		for _, c := range s.Components {
			if c.Name == name {
				return c.State
			}
		}
		return ""
	}
	toxicsOn := func(s Status, edge string) []string {
		for _, e := range s.Edges {
			if e.Name == edge {
				return e.Toxics
			}
		}
		return nil
	}

	run("inject", "redirect->redis", "latency", "latency=10ms", "direction=both")
	run("inject", "link->link-db", "partition")
	run("inject", "redis", "pause")
	run("inject", "analytics-db", "crash")
	s := status()
	if s.Pid != st.Pid || len(toxicsOn(s, "redirect->redis")) != 2 || state(s, "redis") != "paused" || state(s, "analytics-db") != "crashed" {
		t.Fatalf("status after inject: %+v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := pgQuery(ctx, "postgres://postgres@"+st.Edges["link->link-db"]+"/app?sslmode=disable&connect_timeout=1"); err == nil {
		t.Error("link->link-db answers while partitioned")
	}
	cancel()

	run("heal", "redis")
	if got := state(status(), "redis"); got != "ready" {
		t.Errorf("redis %s after heal", got)
	}
	run("heal", "--all")
	s = status()
	for _, c := range s.Components {
		if c.State != "ready" && c.State != "not started" {
			t.Errorf("%s %s after heal --all", c.Name, c.State)
		}
	}
	for _, e := range s.Edges {
		if !e.Enabled || len(e.Toxics) > 0 {
			t.Errorf("edge after heal --all: %+v", e)
		}
	}
	// With --for, inject undoes by itself.
	run("inject", "redis", "pause", "--for", "200ms")
	if got := state(status(), "redis"); got != "ready" {
		t.Errorf("redis %s after inject --for", got)
	}

	// Bad usage exits 2 with a message naming what is known.
	for _, args := range [][]string{
		{"inject", "redis", "latency", "latency=5ms"},
		{"inject", "redirect->redis", "latency", "latncy=5ms"},
		{"heal"},
	} {
		cmd := exec.Command(binary, append(args, "--state-dir", stateDir)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("faultline %v: err %v, want exit 2: %s", args, err, out)
		}
	}
}

func TestExternalToxiproxy(t *testing.T) {
	needStores(t)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Listen(addr) }()
	defer func() { _ = srv.Collection.Clear(); _ = srv.Shutdown(); <-done }()
	o := storesOptions(t)
	o.Components = []string{"redis"}
	o.ToxiproxyURL = "http://" + addr
	l, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := toxiclient.NewClient(o.ToxiproxyURL)
	proxies, err := c.Proxies()
	if err != nil || len(proxies) != len(topology.Edges()) {
		t.Fatalf("external toxiproxy has %d proxies (%v)", len(proxies), err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if proxies, _ := c.Proxies(); len(proxies) != 0 {
		t.Errorf("proxies left on the external toxiproxy: %d", len(proxies))
	}
}
