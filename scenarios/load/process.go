package load

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// A generator process: the load of a run sent from a process of its own (`faultline loadgen`),
// not from the lab's. In the lab's process the senders share two Go schedulers' worth of
// threads with Toxiproxy and the span receiver, which a collapsing system floods: a send then
// waits behind them, the generator falls behind (p99 send lag 30-110 ms) and the run is
// invalid exactly when the system misbehaves most. A process of its own gets its own threads
// and the kernel's wake-up preference over the system's processes (nice SystemNice).

// procConfig is what the parent sends the generator process, as its first line.
type procConfig struct {
	Target      string        `json:"target"`
	Streams     []Stream      `json:"streams"`
	Duration    time.Duration `json:"duration"`
	Seed        int64         `json:"seed"`
	Timeout     time.Duration `json:"timeout"`
	MaxWorkers  uint64        `json:"max_workers"`
	MaxRequests uint64        `json:"max_requests"`
	AllowRemote bool          `json:"allow_remote"`
}

// procEvent is one line the generator process writes: ready, a send, a result, or the end.
type procEvent struct {
	Ready  bool    `json:"ready,omitempty"`
	Sent   *Sent   `json:"s,omitempty"`
	Result *Result `json:"r,omitempty"`
	Done   *string `json:"done,omitempty"` // "" when Run returned no error
}

// goLine starts the load; closing the parent's end of stdin stops it.
const goLine = "go\n"

// procFlush is how often the generator process hands what it has to the parent: the live
// progress and the hang detector read sends and results a second at a time.
const procFlush = 20 * time.Millisecond

// Process is a generator process started and ready, its streams not yet sending.
type Process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events *bufio.Scanner
	stderr *bytes.Buffer
	opts   Options
	once   sync.Once
}

// StartProcess starts bin (the faultline binary) as a generator process for Run's arguments
// (opts.OnSend aside: Process.Run takes it) and waits until it is ready to send: the streams
// are checked here first, so a bad target or stream fails as Run would. Process.Run sends;
// Close ends it (always call it).
func StartProcess(ctx context.Context, bin, target string, streams []Stream, d time.Duration, opts Options) (*Process, error) {
	opts = opts.withDefaults()
	if _, err := check(ctx, target, streams, d, opts); err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(procConfig{Target: target, Streams: streams, Duration: d, Seed: opts.Seed, Timeout: opts.Timeout,
		MaxWorkers: opts.MaxWorkers, MaxRequests: opts.MaxRequests, AllowRemote: opts.AllowRemote})
	if err != nil {
		return nil, fmt.Errorf("load: generator process: %w", err)
	}
	cmd := exec.Command(bin, "loadgen")
	// Its own process group, so a terminal's Ctrl-C reaches the lab only, which stops the
	// load by closing stdin and still reads the last results; killed with the lab.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{cmd: cmd, stderr: &bytes.Buffer{}, opts: opts}
	cmd.Stderr = &limitedWriter{w: p.stderr, n: 64 << 10}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("load: generator process: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("load: generator process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("load: generator process %s: %w", bin, err)
	}
	p.events = bufio.NewScanner(out)
	p.events.Buffer(make([]byte, 256<<10), 4<<20) // a result carries a body of up to 64 KiB, base64
	if _, err := p.stdin.Write(append(cfg, '\n')); err != nil {
		return nil, p.fail(fmt.Errorf("load: generator process: %w", err))
	}
	ready := make(chan error, 1)
	go func() {
		ev, err := p.next()
		switch {
		case err != nil:
			ready <- err
		case ev.Done != nil:
			ready <- fmt.Errorf("load: generator process: %s", *ev.Done)
		case !ev.Ready:
			ready <- errors.New("load: generator process: no ready line")
		default:
			ready <- nil
		}
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	case <-time.After(30 * time.Second):
		err = errors.New("load: generator process not ready in 30 s")
	}
	if err != nil {
		return nil, p.fail(err)
	}
	return p, nil
}

// Run starts the load and hands each result to sink, as Run does (sink calls are serialised;
// onSend, when set, is told of each send before its result), until the streams end or ctx is
// cancelled.
func (p *Process) Run(ctx context.Context, onSend func(Sent), sink func(Result)) error {
	if _, err := io.WriteString(p.stdin, goLine); err != nil {
		return p.fail(fmt.Errorf("load: generator process: %w", err))
	}
	start := time.Now()
	stop := context.AfterFunc(ctx, func() { _ = p.stdin.Close() }) // the process stops its streams and drains
	defer stop()
	var runErr error
loop:
	for {
		ev, err := p.next()
		if err != nil {
			runErr = err
			break
		}
		switch {
		case ev.Sent != nil:
			if onSend != nil {
				onSend(*ev.Sent)
			}
		case ev.Result != nil:
			r := *ev.Result
			if p.opts.Phase != nil {
				r.Phase = p.opts.Phase(r.Scheduled.Sub(start))
			}
			sink(r)
		case ev.Done != nil:
			if *ev.Done != "" {
				runErr = fmt.Errorf("load: generator process: %s", *ev.Done)
			}
			break loop
		}
	}
	p.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return runErr
}

// Close ends the process (it is killed if it has not exited 10 s after its stdin closed) and
// waits for it. Safe to call more than once.
func (p *Process) Close() {
	p.once.Do(func() {
		_ = p.stdin.Close()
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	})
}

func (p *Process) fail(err error) error {
	p.Close()
	if s := bytes.TrimSpace(p.stderr.Bytes()); len(s) > 0 {
		return fmt.Errorf("%w (its stderr: %s)", err, s)
	}
	return err
}

func (p *Process) next() (procEvent, error) {
	if !p.events.Scan() {
		err := p.events.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return procEvent{}, fmt.Errorf("load: generator process ended without its last line: %w", err)
	}
	var ev procEvent
	if err := json.Unmarshal(p.events.Bytes(), &ev); err != nil {
		return procEvent{}, fmt.Errorf("load: generator process wrote %.80q: %w", p.events.Bytes(), err)
	}
	return ev, nil
}

// ServeProcess is the generator process's side (`faultline loadgen`): it reads its
// configuration from in, says ready, waits for the go line, runs the streams and writes each
// send and result to out, then the end. Closing in stops the streams.
func ServeProcess(in io.Reader, out io.Writer) error {
	rd := bufio.NewReader(in)
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("loadgen: reading the configuration: %w", err)
	}
	var cfg procConfig
	if err := json.Unmarshal(line, &cfg); err != nil {
		return fmt.Errorf("loadgen: configuration: %w", err)
	}
	w := &eventWriter{out: out}
	w.push(procEvent{Ready: true})
	if err := w.drain(); err != nil {
		return err
	}
	if g, err := rd.ReadString('\n'); err != nil || g != goLine {
		return nil // the parent went away before starting: nothing was sent
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = io.Copy(io.Discard, rd); cancel() }() // stdin closed: stop
	drained := make(chan struct{})
	stopDrain := make(chan struct{})
	go func() {
		defer close(drained)
		t := time.NewTicker(procFlush)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = w.drain()
			case <-stopDrain:
				return
			}
		}
	}()
	opts := Options{Seed: cfg.Seed, Timeout: cfg.Timeout, MaxWorkers: cfg.MaxWorkers, MaxRequests: cfg.MaxRequests, AllowRemote: cfg.AllowRemote,
		OnSend: func(s Sent) { w.push(procEvent{Sent: &s}) }}
	runErr := Run(ctx, cfg.Target, cfg.Streams, cfg.Duration, opts, func(r Result) { w.push(procEvent{Result: &r}) })
	close(stopDrain)
	<-drained
	done := ""
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		done = runErr.Error()
	}
	w.push(procEvent{Done: &done})
	return w.drain()
}

// eventWriter queues events as JSON lines from the senders' goroutines and writes them from
// one other: a sender never waits on the pipe. A busy parent that reads late (the lab's
// process, under the very load that is measured) must not hold a send back and show up as
// the generator's lag. The queue is bounded by the run's requests (Options.MaxRequests).
type eventWriter struct {
	mu  sync.Mutex
	buf []byte
	out io.Writer
	err error
}

func (e *eventWriter) push(ev procEvent) {
	b, err := json.Marshal(ev)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.err = cmp.Or(e.err, err)
		return
	}
	e.buf = append(append(e.buf, b...), '\n')
}

// drain writes what is queued; only the draining goroutine calls it.
func (e *eventWriter) drain() error {
	e.mu.Lock()
	b := e.buf
	e.buf = nil
	err := e.err
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if len(b) > 0 {
		if _, err := e.out.Write(b); err != nil {
			e.mu.Lock()
			e.err = err
			e.mu.Unlock()
			return err
		}
	}
	return nil
}

// limitedWriter keeps the first n bytes written to it and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		_, _ = l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}
