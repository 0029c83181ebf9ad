// Package runqueue measures how long the threads of the lab's child processes waited for a
// CPU: it samples the kernel's per-thread scheduler statistics (/proc/PID/task/TID/schedstat,
// Linux) of named processes at a fixed interval. A timer of a process whose thread waited on
// the run queue fires late however well the process is written: the lab's timing checks use
// this to tell the machine's lateness from a policy's (reports/conformance).
//
// Measured on the 2-core machines (retry-budget, 2026-12-03): with both cores saturated one
// thread of a Go service waits 50-126 ms at a time while its other threads run on, so the
// process keeps recording spans, yet the timers and goroutines queued behind the waiting
// thread are late by that much.
package runqueue

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/faultline/faultline/internal/percentile"
)

// Every is the default sampling interval: the finest lateness the record can place in time.
const Every = 20 * time.Millisecond

// Root is where the proc file system is mounted; a variable for tests.
var Root = "/proc"

// Supported says whether this machine exposes per-thread scheduler statistics.
func Supported() bool {
	_, err := os.Stat(Root + "/self/task")
	if err != nil {
		return false
	}
	_, err = readWaits(os.Getpid())
	return err == nil
}

// sample is one reading of one process: each thread's total wait on the run queue so far.
type sample struct {
	at    time.Time
	pid   int
	waits map[int]uint64 // tid → ns
}

// Sampler reads the named processes every interval until Stop.
type Sampler struct {
	pid   func(name string) int // 0: not running now
	names []string
	every time.Duration

	// readers and samples belong to the loop until done is closed.
	readers  map[string]*reader
	samples  map[string][]sample
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// Start samples the processes names resolve to through pid (asked at every tick, so a
// restarted process is followed) every interval (Every when 0).
func Start(names []string, pid func(name string) int, every time.Duration) *Sampler {
	if every <= 0 {
		every = Every
	}
	s := &Sampler{pid: pid, names: append([]string(nil), names...), every: every,
		readers: map[string]*reader{}, samples: map[string][]sample{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *Sampler) loop() {
	defer close(s.done)
	defer func() {
		for _, r := range s.readers {
			r.close()
		}
	}()
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.read()
		select {
		case <-s.stop:
			s.read() // the last window closes on a sample after it
			return
		case <-t.C:
		}
	}
}

func (s *Sampler) read() {
	for _, n := range s.names {
		pid := s.pid(n)
		if pid <= 0 {
			continue
		}
		r := s.readers[n]
		if r == nil {
			r = &reader{}
			s.readers[n] = r
		}
		w, err := r.read(pid)
		if err != nil {
			continue // the process ended between the pid and the read: nothing to record
		}
		s.samples[n] = append(s.samples[n], sample{at: time.Now(), pid: pid, waits: w})
	}
}

// Stop ends the sampling and returns what it recorded. Safe to call more than once.
func (s *Sampler) Stop() *Record {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return &Record{every: s.every, samples: s.samples}
}

// Record is what a Sampler read. The zero value (or nil) knows nothing: every wait is 0.
type Record struct {
	every   time.Duration
	samples map[string][]sample
}

// Waited is how long, at most, any one thread of the named process waited for a CPU after
// from, read from the last sample at or before from to the first at or after to. The kernel
// credits a wait when it ends and a sample is taken after its files are read, so a wait
// credited in the interval ending at sample k ended by k's time: of it, no more than k's time
// minus from can lie after from. Each interval's credit is capped so (a long wait that ended
// just after from mostly happened before it), and a thread's capped credits are summed: the
// result never falls short of the time the thread really waited after from, and no longer
// counts a wait whole for ending inside the window. 0 when the process was not sampled
// around the window (not local, restarted within it).
func (r *Record) Waited(name string, from, to time.Time) time.Duration {
	if r == nil || !to.After(from) {
		return 0
	}
	ss := r.samples[name]
	i := lastAtOrBefore(ss, from)
	j := firstAtOrAfter(ss, to)
	if i < 0 || j < 0 || ss[i].pid != ss[j].pid {
		return 0
	}
	var most time.Duration
	for tid, last := range ss[i].waits {
		var after time.Duration // this thread's wait after from, at most
		for k := i + 1; k <= j; k++ {
			v, ok := ss[k].waits[tid]
			if !ok || ss[k].pid != ss[i].pid {
				continue // not read this time: the next reading credits the interval since the last
			}
			if v > last {
				after += min(time.Duration(v-last), ss[k].at.Sub(from))
			}
			last = v
		}
		most = max(most, min(after, ss[j].at.Sub(from)))
	}
	return most
}

// Every is the interval the record was read at.
func (r *Record) Every() time.Duration {
	if r == nil {
		return 0
	}
	return r.every
}

// Samples is how many readings of the named process the record holds.
func (r *Record) Samples(name string) int {
	if r == nil {
		return 0
	}
	return len(r.samples[name])
}

func lastAtOrBefore(ss []sample, t time.Time) int {
	return sort.Search(len(ss), func(i int) bool { return ss[i].at.After(t) }) - 1
}

func firstAtOrAfter(ss []sample, t time.Time) int {
	if i := sort.Search(len(ss), func(i int) bool { return !ss[i].at.Before(t) }); i < len(ss) {
		return i
	}
	return -1
}

// reader reads one process's threads through files kept open between ticks (a reading is
// then one pread per thread, ~15x cheaper than opening each file every time); the thread
// list is read again every relist ticks, and whenever the process or a thread is gone.
type reader struct {
	pid   int
	files map[int]*os.File // tid → its schedstat
	ticks int
	buf   []byte
}

const relist = 25

func (r *reader) close() {
	for _, f := range r.files {
		f.Close()
	}
	r.files = nil
}

// read returns every thread's run-queue wait (ns) of process pid.
func (r *reader) read(pid int) (map[int]uint64, error) {
	if pid != r.pid || r.files == nil || r.ticks%relist == 0 {
		if err := r.list(pid); err != nil {
			return nil, err
		}
	}
	r.ticks++
	out := make(map[int]uint64, len(r.files))
	for tid, f := range r.files {
		n, err := f.ReadAt(r.buf, 0)
		if n == 0 && err != nil {
			f.Close()
			delete(r.files, tid) // the thread ended
			continue
		}
		if w, err := ParseSchedstat(r.buf[:n]); err == nil {
			out[tid] = w
		}
	}
	if len(out) == 0 {
		r.close()
		return nil, fmt.Errorf("runqueue: no thread of %d readable", pid)
	}
	return out, nil
}

func (r *reader) list(pid int) error {
	dir := Root + "/" + strconv.Itoa(pid) + "/task"
	d, err := os.Open(dir)
	if err != nil {
		r.close()
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		r.close()
		return err
	}
	if pid != r.pid {
		r.close()
	}
	if r.files == nil {
		r.files = map[int]*os.File{}
	}
	if r.buf == nil {
		r.buf = make([]byte, 128)
	}
	r.pid = pid
	seen := make(map[int]bool, len(names))
	for _, n := range names {
		tid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		seen[tid] = true
		if r.files[tid] != nil {
			continue
		}
		if f, err := os.Open(dir + "/" + n + "/schedstat"); err == nil {
			r.files[tid] = f
		}
	}
	for tid, f := range r.files {
		if !seen[tid] {
			f.Close()
			delete(r.files, tid)
		}
	}
	return nil
}

// readWaits reads every thread's run-queue wait of process pid once.
func readWaits(pid int) (map[int]uint64, error) {
	var r reader
	defer r.close()
	return r.read(pid)
}

// ParseSchedstat returns the run-queue wait (ns) of one schedstat line.
func ParseSchedstat(b []byte) (uint64, error) {
	fields := bytes.Fields(b)
	if len(fields) < 3 {
		return 0, fmt.Errorf("runqueue: schedstat %q: want 3 numbers", b)
	}
	return strconv.ParseUint(string(fields[1]), 10, 64)
}

// Summary is what one process's threads waited over the whole record, reading by reading:
// in each interval between two readings, the most any one thread's waits grew by.
type Summary struct {
	Intervals int           // how many intervals were read
	Longest   time.Duration // the most in one interval (a wait is credited when it ends)
	P99       time.Duration // its 99th percentile over the intervals
	// Starved is how many intervals held a wait at least as long as the interval itself:
	// one thread that could have run did not, for the whole of it.
	Starved int
}

// Summarize sums up the named process's record; the zero Summary when it was not sampled.
func (r *Record) Summarize(name string) Summary {
	if r == nil {
		return Summary{}
	}
	ss := r.samples[name]
	var per []time.Duration
	var out Summary
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		if a.pid != b.pid {
			continue // a restart: another process's counters
		}
		var most uint64
		for tid, end := range b.waits {
			if begin, ok := a.waits[tid]; ok && end > begin {
				most = max(most, end-begin)
			}
		}
		w := time.Duration(most)
		per = append(per, w)
		out.Longest = max(out.Longest, w)
		if w >= b.at.Sub(a.at) {
			out.Starved++
		}
	}
	if len(per) == 0 {
		return Summary{}
	}
	slices.Sort(per)
	out.Intervals = len(per)
	out.P99 = percentile.Of(per, 99)
	return out
}
