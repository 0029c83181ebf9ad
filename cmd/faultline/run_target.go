package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/compose"
	"github.com/faultline/faultline/lab/containers"
	"github.com/faultline/faultline/scenarios/runner"
)

// Where `faultline run` finds the system under test.
const (
	targetProcess    = "process"    // local processes started per run (the default)
	targetCompose    = "compose"    // a running docker compose stack, attached to
	targetContainers = "containers" // containers started per run with testcontainers-go
)

func addTargetFlag(c *cobra.Command, o *runOptions) {
	c.Flags().StringVar(&o.target, "target", targetProcess,
		"where the system runs: process (local processes, no Docker), compose (the running docker-compose.yml stack; "+
			"FAULTLINE_TOXIPROXY_URL, FAULTLINE_COMPOSE_PROJECT, FAULTLINE_OTLP_LISTEN, DOCKER_HOST) or containers "+
			"(started per run with testcontainers-go; image $FAULTLINE_IMAGE, default "+containers.DefaultImage+")")
}

// startFor returns the runner's backend for a target; nil means the runner's default (processes).
func startFor(o runOptions) (func(context.Context, lab.Options) (runner.System, error), error) {
	switch o.target {
	case "", targetProcess:
		return nil, nil
	case targetCompose:
		co := compose.OptionsFromEnv(os.Getenv)
		co.AllowRemote = o.allowRemote
		return func(ctx context.Context, lo lab.Options) (runner.System, error) {
			return compose.Start(ctx, co, lo)
		}, nil
	case targetContainers:
		return func(ctx context.Context, lo lab.Options) (runner.System, error) {
			return containers.Start(ctx, containers.Options{}, lo)
		}, nil
	}
	return nil, fmt.Errorf("--target %q: want %s, %s or %s", o.target, targetProcess, targetCompose, targetContainers)
}

// loadMayLeaveLoopback says whether the load generator may target a non-loopback gateway. The
// compose stack's gateway is a private compose-network address, which the compose backend
// itself checks (loopback or private only, unless --allow-remote).
func loadMayLeaveLoopback(o runOptions) bool {
	return o.allowRemote || o.target == targetCompose
}
