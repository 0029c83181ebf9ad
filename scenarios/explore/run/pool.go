package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/scenarios/runner"
	"github.com/faultline/faultline/system/topology"
	"github.com/faultline/faultline/toxics"
)

// SpanFlush bounds how long a borrowed system's Close waits for the services' batch span
// processors (200 ms schedule delay) to deliver the experiment's last spans; SpanQuiet ends
// the wait sooner: once no export has reached the forwarder for this long, every processor's
// timer has fired with nothing left to send (a span lost anyway is counted by the runner's
// span-loss check, which makes a run that needs traces invalid, never a pass).
const (
	SpanFlush = 700 * time.Millisecond
	SpanQuiet = 300 * time.Millisecond
)

// pool keeps one running system for experiment after experiment. The services export their
// spans to the pool's forwarder, which relays them to the receiver of whichever experiment
// runs now; a borrowed system's Close heals every fault instead of stopping anything.
type pool struct {
	ctx     context.Context // the system lives as long as this
	dir     string          // systems' own directories go under dir/systems
	profile string
	binary  string
	log     io.Writer
	start   func(ctx context.Context, o lab.Options) (*lab.Lab, error)

	fwd     *forwarder
	lab     *lab.Lab
	systems int
}

func newPool(ctx context.Context, dir, profile, binary string, log io.Writer) (*pool, error) {
	fwd, err := startForwarder()
	if err != nil {
		return nil, err
	}
	return &pool{ctx: ctx, dir: dir, profile: profile, binary: binary, log: log, fwd: fwd, start: lab.Start}, nil
}

// Start is the runner's backend: the running system, started first when there is none.
func (p *pool) Start(ctx context.Context, lo lab.Options) (runner.System, error) {
	if lo.Profile != p.profile {
		return nil, fmt.Errorf("explore: the experiment asks profile %q of a system running %q", lo.Profile, p.profile)
	}
	if p.lab == nil {
		p.systems++
		dir := filepath.Join(p.dir, "systems", fmt.Sprint(p.systems))
		l, err := p.start(p.ctx, lab.Options{Dir: dir, Profile: p.profile, Binary: p.binary, OTLPEndpoint: p.fwd.URL()})
		if err != nil {
			return nil, err
		}
		p.lab = l
	}
	b := &borrowed{p: p, l: p.lab, dir: lo.Dir, offsets: map[string]int64{}}
	for _, svc := range topology.Services() {
		if st, err := os.Stat(p.logFile(svc)); err == nil {
			b.offsets[svc] = st.Size()
		}
	}
	p.fwd.Set(lo.OTLPEndpoint)
	return b, nil
}

func (p *pool) logFile(svc string) string { return filepath.Join(p.lab.Dir(), "logs", svc+".log") }

// Healthy says whether the running system can take the next experiment: every service
// ready within wait.
func (p *pool) Healthy(ctx context.Context, wait time.Duration) error {
	if p.lab == nil {
		return errors.New("no system")
	}
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(wait)
	for _, svc := range topology.Services() {
		for {
			err := lab.GetJSON(ctx, c, p.lab.Direct(svc)+"/readyz", nil)
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("explore: %s not ready after the heal: %w", svc, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// Retire stops the running system; the next Start brings up a fresh one.
func (p *pool) Retire(ctx context.Context) error {
	if p.lab == nil {
		return nil
	}
	err := p.lab.Close(ctx)
	p.lab = nil
	return err
}

// Close heals and stops the system and the forwarder.
func (p *pool) Close(ctx context.Context) error {
	var errs []error
	// After an interrupt the system stops itself (lab.Start's context), which heals
	// everything by stopping it; a heal then would only talk to proxies already gone.
	if p.lab != nil && p.ctx.Err() == nil {
		errs = append(errs, p.lab.HealAll(ctx))
	}
	errs = append(errs, p.Retire(ctx), p.fwd.Close(ctx))
	return errors.Join(errs...)
}

// borrowed is the running system lent to one experiment.
type borrowed struct {
	p       *pool
	l       *lab.Lab
	dir     string
	offsets map[string]int64
	once    sync.Once
	err     error
}

func (b *borrowed) Gateway() string        { return b.l.Gateway() }
func (b *borrowed) Direct(c string) string { return b.l.Direct(c) }
func (b *borrowed) Env() toxics.Env        { return b.l.Env() }
func (b *borrowed) Close(ctx context.Context) error {
	b.once.Do(func() { b.err = b.close(ctx) })
	return b.err
}

// close heals every fault (the schedule healed its own; this catches anything left), lets
// the services deliver the experiment's last spans, stops relaying them, and copies the
// services' log lines of the experiment into its run directory (breaker transitions, span
// counts), as a stopped system would have left them.
func (b *borrowed) close(ctx context.Context) error {
	var err error
	begin := time.Now()
	if b.p.ctx.Err() == nil { // else the system is stopping: nothing is left to heal
		err = b.l.HealAll(ctx)
	}
	b.p.fwd.Quiet(ctx, begin, SpanQuiet, SpanFlush)
	b.p.fwd.Set("")
	return errors.Join(err, b.copyLogs())
}

func (b *borrowed) copyLogs() error {
	if b.dir == "" {
		return nil
	}
	dst := filepath.Join(b.dir, "logs")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("explore: %w", err)
	}
	var errs []error
	for _, svc := range topology.Services() {
		errs = append(errs, copyTail(b.p.logFile(svc), filepath.Join(dst, svc+".log"), b.offsets[svc]))
	}
	return errors.Join(errs...)
}

func copyTail(src, dst string, from int64) error {
	in, err := os.Open(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("explore: %w", err)
	}
	defer in.Close()
	if st, err := in.Stat(); err == nil && st.Size() < from {
		from = 0 // the file was recreated
	}
	if _, err := in.Seek(from, io.SeekStart); err != nil {
		return fmt.Errorf("explore: %w", err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("explore: %w", err)
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// forwarder relays OTLP/HTTP requests to a target that changes between experiments; with no
// target it accepts and drops them (spans between experiments belong to none).
type forwarder struct {
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}
	target atomic.Pointer[url.URL]
	last   atomic.Int64 // when the last export arrived, Unix nanoseconds
}

// Quiet waits until no export has arrived for quiet since from (exports before from do not
// count), and at most until from+bound.
func (f *forwarder) Quiet(ctx context.Context, from time.Time, quiet, bound time.Duration) {
	end := from.Add(bound)
	for {
		ref := from
		if l := time.Unix(0, f.last.Load()); l.After(ref) {
			ref = l
		}
		wake := ref.Add(quiet)
		if wake.After(end) {
			wake = end
		}
		d := time.Until(wake)
		if d <= 0 {
			return
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func startForwarder() (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("explore: span forwarder: %w", err)
	}
	f := &forwarder{ln: ln, done: make(chan struct{})}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		if t := f.target.Load(); t != nil {
			r.SetURL(t)
		}
	}}
	f.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.last.Store(time.Now().UnixNano())
		if f.target.Load() == nil {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln)
	}()
	return f, nil
}

// URL is the endpoint the services export to.
func (f *forwarder) URL() string { return "http://" + f.ln.Addr().String() }

// Set points the forwarder at an OTLP endpoint; "" drops what comes.
func (f *forwarder) Set(endpoint string) {
	if endpoint == "" {
		f.target.Store(nil)
		return
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		f.target.Store(nil)
		return
	}
	f.target.Store(u)
}

func (f *forwarder) Close(ctx context.Context) error {
	err := f.srv.Shutdown(ctx)
	<-f.done
	return err
}
