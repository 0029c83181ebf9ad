// Package localserver runs real PostgreSQL and Redis servers as local child processes for the lab and for integration tests.
package localserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrMissingBinary is returned when a server binary is not installed.
var ErrMissingBinary = errors.New("localserver: binary not found")

// SystemNice is the scheduling priority of every process the lab starts (see spawn).
// Measured (2026-12-01): redirect-link-timeout without a breaker saturated both cores and the
// load generator, at the same priority, sent 32-42 ms late at p99 (limit 25 ms) in three runs
// out of three: the run proved nothing either way.
const SystemNice = 5

// StopGrace is how long Stop waits after the polite signal before it sends SIGKILL. A
// service may drain requests for up to 5 s and then flush its spans for up to 5 s; killing it
// earlier would lose its final span count and make a run invalid for the lab's own haste.
const StopGrace = 12 * time.Second

// Server is one running (or stopped) local server process.
type Server struct {
	Name string // "postgres" or "redis"
	Addr string // 127.0.0.1:PORT
	DSN  string // connection string a client uses (postgres://… or redis://…)
	Dir  string // the directory the server keeps its data in

	path     string
	args     []string
	env      []string // nil: inherit ours
	cred     *syscall.Credential
	stopSig  syscall.Signal
	out      io.Writer
	closeOut func() error
	tail     *tailBuffer
	ready    func(ctx context.Context) error
	rmDir    string // removed by Stop when we created it
	// afterExit runs once the process tree is gone, before rmDir is removed.
	afterExit func()

	mu      sync.Mutex
	onExit  func(error) // called when the process ends without Kill or Stop asking for it
	killing bool        // Kill or Stop asked the current process to end
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current process has been waited for
	paused  bool
	stopped bool
}

// Pid returns the pid (also the process-group id) of the running process, or 0.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil || s.exited() {
		return 0
	}
	return s.cmd.Process.Pid
}

// Running reports whether the process is alive (paused counts as running).
func (s *Server) Running() bool { return s.Pid() != 0 }

func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// spawn starts the process in its own process group with a parent-death signal, so that
// nothing survives the parent even when it is killed with SIGKILL.
func (s *Server) spawn() error {
	cmd := exec.Command(s.path, s.args...)
	cmd.Dir = s.Dir
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	cmd.Env = s.env
	if cmd.Env == nil {
		cmd.Env = append(os.Environ(), "LC_ALL=C")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: s.cred}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("localserver: start %s: %w", s.Name, err)
	}
	// The measuring instrument comes first: every process of the system runs at SystemNice, so
	// when the system saturates the 2 cores the lab's load generator still sends on time
	// (forks inherit it). Best effort: a failure leaves the process at the lab's priority.
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, SystemNice)
	done := make(chan struct{})
	s.cmd, s.done, s.paused, s.killing = cmd, done, false, false
	// The waiter is owned by the Server: every path that ends the process waits on done.
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		unexpected, onExit := !s.killing, s.onExit
		s.mu.Unlock()
		close(done)
		if unexpected && onExit != nil {
			onExit(err)
		}
	}()
	return nil
}

// waitReady polls the ready probe until it succeeds, the process exits or ctx ends.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	var last error
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		select {
		case <-done:
			return fmt.Errorf("localserver: %s exited before it was ready: %s", s.Name, s.tail.String())
		default:
		}
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		last = s.ready(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localserver: %s not ready: %w (last probe: %v; log: %s)", s.Name, ctx.Err(), last, s.tail.String())
		case <-done:
		case <-time.After(delay):
		}
	}
}

// signal sends sig to the whole process group.
func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.exited() {
		return nil
	}
	if err := signalTree(s.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("localserver: signal %s: %w", s.Name, err)
	}
	return nil
}

func (s *Server) doneChan() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return s.done
}

// OnUnexpectedExit registers f to be called (from the waiting goroutine) when the process
// ends although neither Kill nor Stop asked it to: a crash the operator should hear about.
func (s *Server) OnUnexpectedExit(f func(error)) {
	s.mu.Lock()
	s.onExit = f
	s.mu.Unlock()
}

func (s *Server) expectExit() {
	s.mu.Lock()
	s.killing = true
	s.mu.Unlock()
}

// Kill sends SIGKILL to the process tree and returns once every process of it is gone.
func (s *Server) Kill(ctx context.Context) error {
	s.expectExit()
	tree := Tree(s.Pid())
	if err := s.signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-s.doneChan():
	case <-ctx.Done():
		return fmt.Errorf("localserver: kill %s: %w", s.Name, ctx.Err())
	}
	if !waitGone(tree, 5*time.Second) {
		return fmt.Errorf("localserver: kill %s: processes %v still alive", s.Name, tree)
	}
	return nil
}

// Start starts the server again after Kill (same port, same data) and waits until it is ready.
// When it is already running it only waits until it is ready (a paused one: not at all).
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return fmt.Errorf("localserver: %s was stopped", s.Name)
	}
	if s.cmd != nil && !s.exited() {
		paused := s.paused
		s.mu.Unlock()
		if paused {
			return nil // frozen on purpose: its readiness is not the question
		}
		// Someone else may have just started it: ready is what the caller waits for.
		return s.waitReady(ctx, 30*time.Second)
	}
	err := s.spawn()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.waitReady(ctx, 30*time.Second)
}

// Probe runs the readiness check once.
func (s *Server) Probe(ctx context.Context) error { return s.ready(ctx) }

// Pause freezes the process tree with SIGSTOP and returns once every process of it has
// stopped: kill(2) returns before a running multi-threaded process has come to a halt, and a
// caller that tests the pause at once must not see it answer.
func (s *Server) Pause(ctx context.Context) error {
	tree := Tree(s.Pid())
	if err := s.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
	for i := 0; i < 400; i++ {
		running := false
		for _, p := range tree {
			if st, ok := readStat(p); ok && st.State != 'T' && st.State != 't' && st.State != 'Z' {
				running = true
				break
			}
		}
		if !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localserver: pause %s: %w", s.Name, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return fmt.Errorf("localserver: pause %s: processes did not stop", s.Name)
}

// Resume thaws the process group with SIGCONT.
func (s *Server) Resume(ctx context.Context) error {
	if err := s.signal(syscall.SIGCONT); err != nil {
		return err
	}
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
	return nil
}

// Paused reports whether Pause was called without a Resume since.
func (s *Server) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused && s.cmd != nil && !s.exited()
}

// Stop ends the server: the polite signal to the process group, SIGKILL after StopGrace,
// wait, then remove the directory it created. Safe to call twice.
func (s *Server) Stop() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()

	var errs []error
	s.expectExit()
	tree := Tree(s.Pid())
	// The polite signal goes to the leader only: it shuts its own children down in order.
	s.mu.Lock()
	if s.cmd != nil && !s.exited() {
		if err := syscall.Kill(s.cmd.Process.Pid, s.stopSig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("localserver: stop %s: %w", s.Name, err))
		}
	}
	s.mu.Unlock()
	// A stopped process only sees the signal once it runs again.
	_ = s.signal(syscall.SIGCONT)
	done := s.doneChan()
	select {
	case <-done:
	case <-time.After(StopGrace):
		_ = s.signal(syscall.SIGKILL)
		<-done
	}
	// Whatever of the tree outlived its leader gets SIGKILL.
	for _, p := range tree {
		if Alive(p) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	if !waitGone(tree, 2*time.Second) {
		errs = append(errs, fmt.Errorf("localserver: stop %s: processes %v still alive", s.Name, tree))
	}
	if s.afterExit != nil {
		s.afterExit()
	}
	if s.closeOut != nil {
		if err := s.closeOut(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.rmDir != "" {
		if err := os.RemoveAll(s.rmDir); err != nil {
			errs = append(errs, fmt.Errorf("localserver: remove %s: %w", s.rmDir, err))
		}
	}
	return errors.Join(errs...)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localserver: pick port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// openLog returns where the process output goes: the caller's writer or file plus a small
// tail kept for error messages.
func openLog(w io.Writer, path string) (io.Writer, func() error, *tailBuffer, error) {
	tail := &tailBuffer{max: 4096}
	var closeFn func() error
	switch {
	case path != "":
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("localserver: open log: %w", err)
		}
		w, closeFn = f, f.Close
	case w == nil:
		w = io.Discard
	}
	return io.MultiWriter(w, tail), closeFn, tail, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf.Bytes()))
}
