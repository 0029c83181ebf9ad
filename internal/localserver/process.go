package localserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// ProcessOptions describe any long-running child process, e.g. a service of the system
// started by re-executing the faultline binary.
type ProcessOptions struct {
	Name         string
	Path         string
	Args         []string
	Env          []string // the complete environment; nil inherits ours
	Dir          string   // working directory; must exist; never removed
	Log          io.Writer
	LogFile      string
	Ready        func(ctx context.Context) error // required: when the process is ready
	ReadyTimeout time.Duration                   // default 30s
	StopSignal   syscall.Signal                  // default SIGTERM
}

// Process starts a child process in its own process group with a parent-death signal and
// waits until Ready succeeds. It returns a Server with the same controls as the stores.
func Process(ctx context.Context, o ProcessOptions) (*Server, error) {
	if o.Ready == nil {
		return nil, errors.New("localserver: process needs a ready check")
	}
	if _, err := os.Stat(o.Path); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMissingBinary, o.Name, err)
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.StopSignal == 0 {
		o.StopSignal = syscall.SIGTERM
	}
	out, closeOut, tail, err := openLog(o.Log, o.LogFile)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Name: o.Name, Dir: o.Dir, path: o.Path, args: o.Args, env: o.Env,
		stopSig: o.StopSignal, out: out, closeOut: closeOut, tail: tail, ready: o.Ready,
	}
	s.mu.Lock()
	err = s.spawn()
	s.mu.Unlock()
	if err != nil {
		if closeOut != nil {
			_ = closeOut()
		}
		return nil, err
	}
	if err := s.waitReady(ctx, o.ReadyTimeout); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// LogTail returns the last few KB the process wrote, for error messages.
func (s *Server) LogTail() string { return s.tail.String() }
