package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/console"
	"github.com/faultline/faultline/lab/otlp"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/scenarios/gameday"
	"github.com/faultline/faultline/scenarios/load"
)

// gameDay is what `up --console` adds to a lab: a span receiver for the map, the game day's
// load and record, the console.
type gameDay struct {
	recv *otlp.Receiver
	sess *gameday.Session
	srv  *console.Server
}

// startGameDayTelemetry starts the span receiver before the lab (the services export to it,
// and forward to --otlp-endpoint if one was given) and picks the record's directory.
func startGameDayTelemetry(ctx context.Context, o *upOptions) (*gameDay, error) {
	recv := otlp.NewReceiver(otlp.Options{Forward: o.otlp})
	ep, err := recv.Start(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("up: console: %w", err)
	}
	o.otlp = ep
	if o.dir == "" {
		o.dir = filepath.Join("runs", "gameday-"+time.Now().Format("20060102-150405"))
	}
	return &gameDay{recv: recv}, nil
}

func (g *gameDay) start(l *lab.Lab, o upOptions) error {
	g.sess = gameday.New(gameday.Options{Gateway: l.Gateway(), Ledger: l.Ledger(), Profile: o.profile, Seed: time.Now().Unix() % 100000,
		Generator: load.GeneratorBinary("")})
	srv, err := console.ForLab(l, g.sess, g.recv.Spans, o.consoleAddr)
	if err != nil {
		_, _ = g.sess.Close(context.Background(), "", nil)
		g.sess = nil
		return usageError{fmt.Errorf("up: %w", err)}
	}
	g.srv = srv
	return nil
}

// finish stops the console and the load and writes the record, before the lab goes down.
func (g *gameDay) finish(ctx context.Context, dir string) (*reports.Results, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if g.srv != nil {
		_ = g.srv.Close(cctx)
	}
	if g.sess == nil {
		return nil, nil
	}
	return g.sess.Close(context.WithoutCancel(ctx), dir, g.recv.Spans())
}

func (g *gameDay) closeReceiver(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = g.recv.Close(cctx)
}
