// Package hotpath measures what a cached redirect costs the whole system: CPU per process and capacity under wrk, and one profile's latency against another's.
package hotpath

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/otlp"
	"github.com/faultline/faultline/system/profiles"
)

// LabProcess names this process in CPU figures: the lab's in-process Toxiproxy (every proxied
// hop) and its OTLP receiver (every span the services export).
const LabProcess = "lab"

// pprofDirEnv is system/internal/service.PprofDirEnv (the lab may not import it): services
// started with it serve pprof on loopback and write the address to DIR/<service>.addr.
const pprofDirEnv = "FAULTLINE_PPROF_DIR"

// Options configure a capacity run.
type Options struct {
	Binary      string        // the faultline binary the lab re-executes
	Profile     string        // resilience profile, built-in name or YAML path (default "default")
	Codes       int           // cached short codes the load cycles through (default 200)
	Duration    time.Duration // wrk's run (default 15s)
	Threads     int           // wrk -t (default 2)
	Connections int           // wrk -c (default 64)
	// PprofDir, when set, receives a CPU profile of every service and of the lab process,
	// taken during the wrk run (NAME.pprof).
	PprofDir string
	Log      io.Writer // progress lines; nil = silent
	StateDir string    // the lab's state dir (default lab's)
}

func (o *Options) defaults() {
	if o.Profile == "" {
		o.Profile = "default"
	}
	if o.Codes <= 0 {
		o.Codes = 200
	}
	if o.Duration <= 0 {
		o.Duration = 15 * time.Second
	}
	if o.Threads <= 0 {
		o.Threads = 2
	}
	if o.Connections <= 0 {
		o.Connections = 64
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Result is one capacity run: wrk's figures and the CPU each process burned per redirect.
type Result struct {
	Profile string
	Wrk     WrkResult
	// CPUPerRedirect is µs of CPU per completed redirect, per process (components by their
	// topology name, LabProcess for this one).
	CPUPerRedirect map[string]float64
	CPUTotal       float64 // their sum, µs per redirect
}

// Processes lists the processes of CPUPerRedirect, most expensive first.
func (r Result) Processes() []string {
	names := make([]string, 0, len(r.CPUPerRedirect))
	for n := range r.CPUPerRedirect {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := r.CPUPerRedirect[names[i]], r.CPUPerRedirect[names[j]]
		return a > b || a == b && names[i] < names[j]
	})
	return names
}

var rateLimitLine = regexp.MustCompile(`(?m)(\brate_limit:\s*)[0-9]+`)

// RaisedLimit is the route rate limit RaiseRateLimits writes: far above what two cores serve.
const RaisedLimit = 1000000

// RaiseRateLimits returns a profile's YAML with every route's rate limit raised to
// RaisedLimit, so a capacity run measures the system and not the limiter. Nothing else moves.
func RaiseRateLimits(profile []byte) []byte {
	return rateLimitLine.ReplaceAll(profile, []byte(fmt.Sprintf("${1}%d", RaisedLimit)))
}

// raisedProfile writes the raised copy of a profile (built-in name or path) into dir.
func raisedProfile(nameOrPath, dir string) (string, error) {
	var data []byte
	var err error
	if !strings.ContainsAny(nameOrPath, "/.") {
		data, err = fs.ReadFile(profiles.FS, nameOrPath+".yaml")
	} else {
		data, err = os.ReadFile(nameOrPath)
	}
	if err != nil {
		return "", fmt.Errorf("hotpath: profile %q: %w", nameOrPath, err)
	}
	p := filepath.Join(dir, "raised-"+strings.TrimSuffix(filepath.Base(nameOrPath), ".yaml")+".yaml")
	if err := os.WriteFile(p, RaiseRateLimits(data), 0o644); err != nil {
		return "", fmt.Errorf("hotpath: %w", err)
	}
	return p, nil
}

// system is one running lab with its trace receiver and seeded codes.
type system struct {
	lab   *lab.Lab
	recv  *otlp.Receiver
	codes []string
}

func (s *system) close(ctx context.Context) {
	s.lab.Close(ctx)
	s.recv.Close(ctx)
}

// start runs the whole system with span export on (as in every scenario run: tracing stays on
// for every request), creates codes links and reads each once so every one is cached.
func start(ctx context.Context, o Options, profile string, codes int, env map[string]string) (*system, error) {
	recv := otlp.NewReceiver(otlp.Options{})
	endpoint, err := recv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hotpath: trace receiver: %w", err)
	}
	for k, v := range env { // inherited by the services the lab starts next
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		if had {
			defer os.Setenv(k, old)
		} else {
			defer os.Unsetenv(k)
		}
	}
	l, err := lab.Start(ctx, lab.Options{Binary: o.Binary, Profile: profile, OTLPEndpoint: endpoint, StateDir: o.StateDir})
	if err != nil {
		recv.Close(ctx)
		return nil, fmt.Errorf("hotpath: start the system: %w", err)
	}
	s := &system{lab: l, recv: recv}
	c := client()
	for i := range codes {
		code, err := lab.CreateLink(ctx, c, l.Gateway(), fmt.Sprintf("https://example.com/hotpath/%d", i))
		if err != nil {
			s.close(ctx)
			return nil, err
		}
		if status, _, _, err := lab.Redirect(ctx, c, l.Gateway(), code); err != nil || status != http.StatusFound {
			s.close(ctx)
			return nil, fmt.Errorf("hotpath: first redirect of %s: status %d, %v", code, status, err)
		}
		s.codes = append(s.codes, code)
	}
	return s, nil
}

func client() *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Capacity starts the system with o.Profile's route rate limits raised, seeds o.Codes cached
// codes and drives them with wrk (closed loop, o.Connections connections) for o.Duration
// after a short warm-up. It reports wrk's rate and latency and the CPU time every process
// burned per completed redirect (from /proc, before and after the run).
func Capacity(ctx context.Context, o Options) (Result, error) {
	o.defaults()
	res := Result{Profile: o.Profile}
	wrkBin, err := exec.LookPath("wrk")
	if err != nil {
		return res, fmt.Errorf("hotpath: wrk not found (apt-get install wrk): %w", err)
	}
	tmp, err := os.MkdirTemp("", "faultline-hotpath-")
	if err != nil {
		return res, fmt.Errorf("hotpath: %w", err)
	}
	defer os.RemoveAll(tmp)
	profile, err := raisedProfile(o.Profile, tmp)
	if err != nil {
		return res, err
	}
	env := map[string]string{}
	if o.PprofDir != "" {
		if err := os.MkdirAll(o.PprofDir, 0o755); err != nil {
			return res, fmt.Errorf("hotpath: %w", err)
		}
		env[pprofDirEnv] = o.PprofDir
	}
	fmt.Fprintf(o.Log, "hotpath: starting the system (profile %s, route rate limits raised to %d/s)\n", o.Profile, RaisedLimit)
	s, err := start(ctx, o, profile, o.Codes, env)
	if err != nil {
		return res, err
	}
	defer s.close(context.WithoutCancel(ctx))
	paths := make([]string, len(s.codes))
	for i, c := range s.codes {
		paths[i] = "/r/" + c
	}
	script := filepath.Join(tmp, "codes.lua")
	if err := os.WriteFile(script, []byte(wrkScript(paths)), 0o644); err != nil {
		return res, fmt.Errorf("hotpath: %w", err)
	}
	runWrk := func(d time.Duration) (WrkResult, error) {
		args := []string{"-t", fmt.Sprint(o.Threads), "-c", fmt.Sprint(o.Connections), "-d", fmt.Sprintf("%ds", int(d.Seconds())), "--latency", "-s", script, s.lab.Gateway()}
		out, err := exec.CommandContext(ctx, wrkBin, args...).CombinedOutput()
		if err != nil {
			return WrkResult{}, fmt.Errorf("hotpath: wrk %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return ParseWrk(string(out))
	}
	fmt.Fprintf(o.Log, "hotpath: %d codes cached; warming up for 3s\n", len(s.codes))
	if _, err := runWrk(3 * time.Second); err != nil {
		return res, err
	}
	s.recv.Reset()

	procs := map[string]int{}
	for _, cs := range s.lab.Status(ctx).Components {
		if cs.Pid > 0 {
			procs[cs.Name] = cs.Pid
		}
	}
	before := map[string]int64{LabProcess: selfTicks()}
	for name, pid := range procs {
		before[name] = treeTicks(pid)
	}
	stopProfiles := profileAll(ctx, o.PprofDir, o.Duration-time.Second)
	fmt.Fprintf(o.Log, "hotpath: wrk -t%d -c%d for %s\n", o.Threads, o.Connections, o.Duration)
	w, err := runWrk(o.Duration)
	after := map[string]int64{LabProcess: selfTicks()}
	for name, pid := range procs {
		after[name] = treeTicks(pid)
	}
	if perr := stopProfiles(); perr != nil {
		fmt.Fprintf(o.Log, "hotpath: profiles: %v\n", perr)
	}
	if err != nil {
		return res, err
	}
	res.Wrk = w
	if w.Requests == 0 {
		return res, errors.New("hotpath: wrk completed no request")
	}
	res.CPUPerRedirect = map[string]float64{}
	for name, b := range before {
		us := float64(after[name]-b) * (1e6 / localserver.ClockTicks) / float64(w.Requests)
		res.CPUPerRedirect[name] = us
		res.CPUTotal += us
	}
	return res, nil
}

// profileAll takes a CPU profile of every service that wrote its pprof address into dir and
// of this process, for d; the returned stop waits for them and writes dir/NAME.pprof.
func profileAll(ctx context.Context, dir string, d time.Duration) func() error {
	if dir == "" {
		return func() error { return nil }
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	addrs, _ := filepath.Glob(filepath.Join(dir, "*.addr"))
	for _, a := range addrs {
		name := strings.TrimSuffix(filepath.Base(a), ".addr")
		addr, err := os.ReadFile(a)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fetchProfile(ctx, string(addr), d, filepath.Join(dir, name+".pprof")); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
			}
		}()
	}
	self, err := os.Create(filepath.Join(dir, LabProcess+".pprof"))
	if err == nil {
		if err := pprof.StartCPUProfile(self); err != nil { // a test run with -cpuprofile holds it
			self.Close()
			self = nil
		}
	}
	return func() error {
		if self != nil {
			pprof.StopCPUProfile()
			self.Close()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
}

func fetchProfile(ctx context.Context, addr string, d time.Duration, path string) error {
	secs := max(int(d.Seconds()), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: d + 30*time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof answered %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
