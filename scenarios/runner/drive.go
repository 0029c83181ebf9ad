package runner

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/html"
	"github.com/faultline/faultline/scenarios/load"
)

func httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: 5 * time.Second, Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// setup creates the links the {code} streams draw from, then, unless the scenario asks for a
// cold cache, resolves each once so the cache starts warm, as it would be in production. Every
// acknowledged creation and every answer to a resolve goes into the client's tally: the
// warm-up's redirects are clicks the system must count too.
func (r *run) setup(ctx context.Context, gateway string) ([]string, error) {
	n := r.sc.Setup.Links
	for _, st := range r.sc.Load {
		if st.UsesCodes() {
			n = max(n, st.Codes)
		}
	}
	if n == 0 {
		return nil, nil
	}
	sctx, cancel := context.WithTimeout(ctx, setupBudget(n))
	defer cancel()
	began := time.Now()
	res, err := load.Setup(sctx, gateway, n, load.SetupOptions{AllowRemote: r.o.AllowRemote, Seed: r.sc.Seed})
	if err != nil {
		return nil, fmt.Errorf("%w (after %.1fs)", err, time.Since(began).Seconds())
	}
	r.mu.Lock()
	for _, l := range res.Links {
		r.tally.Created(l)
	}
	r.mu.Unlock()
	codes := res.Codes()
	warm := "cache left cold (warm_cache: false)"
	if r.sc.Setup.Warm() {
		c := httpClient()
		for _, code := range codes {
			status := 0
			req, _ := http.NewRequestWithContext(sctx, http.MethodGet, gateway+"/r/"+code, nil)
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
				status = resp.StatusCode
			}
			r.mu.Lock()
			r.tally.Redirect(code, status)
			r.mu.Unlock()
		}
		warm = "each resolved once to warm the cache"
	}
	r.logf("setup: %d links created in %.1fs (%d answers 429 waited out), %s; setup took %.1fs",
		len(codes), res.Took.Seconds(), res.Throttled, warm, time.Since(began).Seconds())
	return codes, nil
}

// setupBudget bounds the whole setup: a minute, plus 10 ms a link (100/s, half the pace the
// setup starts at), so a large setup behind a tight rate limit still ends.
func setupBudget(links int) time.Duration {
	return 60*time.Second + time.Duration(links)*10*time.Millisecond
}

// loadAndFaults runs the load and the fault schedule together, shows progress and checks the
// abort conditions every second. It returns the abort, if one fired.
func (r *run) loadAndFaults(ctx context.Context, l System, plan []plannedFault, res *reports.Results) *reports.Abort {
	sc := r.sc
	dur := sc.Duration.D()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	lv := newLive(r.start, 30, hangBounds(sc.SLOs, res.Phases, load.DefaultTimeout))
	sched := newScheduler(l.Env(), r.start, r.logf)
	w := r.watch
	sched.notify = w.OnFault

	schedDone := make(chan struct{})
	go func() { defer close(schedDone); sched.run(runCtx, plan, dur) }()

	loadDone := make(chan error, 1)
	go func() {
		sink := func(res load.Result) {
			s := res.Sample(r.start)
			lv.add(res.Seq, s)
			w.OnSample(s)
			r.mu.Lock()
			r.samples = append(r.samples, s)
			r.tally.Add(res)
			res.Body = nil // only the code was needed; keep memory flat
			r.results = append(r.results, res)
			r.mu.Unlock()
		}
		loadDone <- r.send(runCtx, lv.sent, sink)
	}()

	names := make([]string, len(sc.Load))
	for i, st := range sc.Load {
		names[i] = st.Name
	}
	pr := &progress{w: r.o.Log, terminal: r.o.Terminal, every: 5 * time.Second}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var abort *reports.Abort
	breached := map[int]int64{} // abort condition → the first second of its current breach
	var loadErr error
loop:
	for {
		select {
		case loadErr = <-loadDone:
			break loop
		case <-w.halt:
			// HALT from a console or faultline halt: stop the load, heal every fault now.
			by, at := w.halted()
			pr.done()
			fmt.Fprintf(r.o.Log, "  HALTED at %.1fs by %s — stopping the load, healing every fault\n", at.Sub(r.start).Seconds(), by)
			cancel()
			healStart := time.Now()
			<-schedDone
			loadErr = <-loadDone
			res.Halt = &reports.Halt{By: by, AtS: at.Sub(r.start).Seconds(), HealedInS: time.Since(healStart).Seconds()}
			break loop
		case now := <-tick.C:
			elapsed := now.Sub(r.start)
			pr.print(now, elapsed, dur, res.Phases, names, lv, sched.activeFaults())
			if abort == nil {
				if a := r.checkAbort(now, lv, breached); a != nil {
					abort = a
					pr.done()
					fmt.Fprintf(r.o.Log, "  ABORT at %.1fs: %s — healing every fault\n", a.AtS, a.Condition)
					cancel() // stops the load and makes the scheduler heal everything
					healStart := time.Now()
					<-schedDone
					a.HealedInS = time.Since(healStart).Seconds()
				}
			}
		}
	}
	pr.done()
	cancel()
	<-schedDone
	if by, at := w.halted(); by != "" && res.Halt == nil { // pressed as the load ended
		res.Halt = &reports.Halt{By: by, AtS: at.Sub(r.start).Seconds()}
	}
	for _, why := range w.endLoad() {
		res.Valid = false
		res.InvalidReasons = append(res.InvalidReasons, "during the run, from outside the scenario: "+why)
	}
	res.Faults = sched.events()
	if late := sched.late(scheduleTolerance); len(late) > 0 {
		res.Valid = false
		res.InvalidReasons = append(res.InvalidReasons, late...)
	}
	if loadErr != nil && abort == nil && res.Halt == nil && ctx.Err() == nil {
		res.Valid = false
		res.InvalidReasons = append(res.InvalidReasons, "load generator: "+loadErr.Error())
	}
	return abort
}

// checkAbort evaluates every abort_when condition on the last whole second of load; a condition
// fires once the seconds it has held in a row cover its duration. Whole seconds are counted,
// not tick times: a tick landing a few µs earlier in its second than the first breaching one
// would otherwise delay the abort by a second.
func (r *run) checkAbort(now time.Time, lv *live, since map[int]int64) *reports.Abort {
	cur := int64(now.Sub(r.start) / time.Second) // the window is [cur-1, cur)
	for i, a := range r.sc.AbortWhen {
		v, ok := lv.measure(a.Threshold, a.Stream, now, 1)
		if !ok || !a.Threshold.Holds(v) {
			delete(since, i)
			continue
		}
		first, ok := since[i]
		if !ok {
			first = cur - 1
			since[i] = first
		}
		if time.Duration(cur-first)*time.Second >= a.For.D() {
			return &reports.Abort{Condition: a.Raw, AtS: now.Sub(r.start).Seconds()}
		}
	}
	return nil
}

func renderHTML(dir string) error { return html.RenderDir(dir) }
