package runqueue

import (
	"os"
	"testing"
	"time"
)

func rec(every time.Duration, ss ...sample) *Record {
	return &Record{every: every, samples: map[string][]sample{"redirect": ss}}
}

func TestWaitedIsTheMostOneThreadWaitedAfterFrom(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	r := rec(20*time.Millisecond,
		sample{at: at(0), pid: 7, waits: map[int]uint64{7: 1e6, 8: 5e6}},
		sample{at: at(20), pid: 7, waits: map[int]uint64{7: 2e6, 8: 5e6}},
		// thread 8 waited 90 ms, credited when it ran again; thread 9 is new (no start)
		sample{at: at(40), pid: 7, waits: map[int]uint64{7: 3e6, 8: 95e6, 9: 500e6}},
		sample{at: at(60), pid: 7, waits: map[int]uint64{7: 4e6, 8: 96e6, 9: 501e6}},
	)
	cases := []struct {
		from, to int
		want     time.Duration
	}{
		// samples 0 and 40: thread 8's 90 ms ended by 40 ms, so at most 35 of them after 5 ms
		{5, 35, 35 * time.Millisecond},
		{20, 40, 20 * time.Millisecond},
		{-10, 40, 0},                   // no sample before it
		{0, 60, 41 * time.Millisecond}, // 40 of the 90 ms (ended by 40 ms) + 1 ms
		{0, 20, time.Millisecond},      // thread 7 only
		{40, 60, time.Millisecond},     // 8 and 9 both 1 ms
		{45, 70, 0},                    // no sample after the window
		{30, 30, 0},                    // empty window
	}
	for _, c := range cases {
		if got := r.Waited("redirect", at(c.from), at(c.to)); got != c.want {
			t.Errorf("Waited(%d..%d ms) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	if got := r.Waited("link", at(0), at(60)); got != 0 {
		t.Errorf("a process never sampled: %v, want 0", got)
	}
	var none *Record
	if got := none.Waited("redirect", at(0), at(60)); got != 0 {
		t.Errorf("nil record: %v", got)
	}
}

func TestWaitedAcrossARestartIsUnknown(t *testing.T) {
	t0 := time.Unix(100, 0)
	r := rec(20*time.Millisecond,
		sample{at: t0, pid: 7, waits: map[int]uint64{7: 1e6}},
		sample{at: t0.Add(40 * time.Millisecond), pid: 9, waits: map[int]uint64{7: 900e6}},
	)
	if got := r.Waited("redirect", t0, t0.Add(30*time.Millisecond)); got != 0 {
		t.Fatalf("a window across a restart credits %v, want 0 (another process's counters)", got)
	}
}

func TestParseSchedstat(t *testing.T) {
	if w, err := ParseSchedstat([]byte("31235 9876543 12\n")); err != nil || w != 9876543 {
		t.Fatalf("got %d, %v", w, err)
	}
	for _, bad := range []string{"", "1 2", "1 x 3", "1 -2 3"} {
		if _, err := ParseSchedstat([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseSchedstat(f *testing.F) {
	f.Add([]byte("31235 9876543 12\n"))
	f.Add([]byte("1 2"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseSchedstat(b) })
}

// The sampler reads a real process (this one) through the kernel's files.
func TestSamplerReadsThisProcess(t *testing.T) {
	if !Supported() {
		t.Skip("no per-thread schedstat here")
	}
	pid := os.Getpid()
	s := Start([]string{"self", "gone"}, func(n string) int {
		if n == "self" {
			return pid
		}
		return 0
	}, 5*time.Millisecond)
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) { // keep a thread busy so there is something to read
	}
	r := s.Stop()
	s.Stop() // idempotent
	if n := r.Samples("self"); n < 3 {
		t.Fatalf("%d samples of this process in 50 ms at 5 ms, want several", n)
	}
	if n := r.Samples("gone"); n != 0 {
		t.Fatalf("a process that is not running was sampled %d times", n)
	}
}

// BenchmarkRead is the cost of one reading of one process (all its threads): the sampler
// pays it for every service at every tick.
func BenchmarkRead(b *testing.B) {
	pid := os.Getpid()
	for b.Loop() {
		if _, err := readWaits(pid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadOpen is one reading through files kept open, as the sampler reads.
func BenchmarkReadOpen(b *testing.B) {
	pid := os.Getpid()
	var r reader
	defer r.close()
	for b.Loop() {
		if _, err := r.read(pid); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSummarizeReadsIntervalByInterval(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	r := rec(20*time.Millisecond,
		sample{at: at(0), pid: 7, waits: map[int]uint64{7: 0, 8: 0}},
		sample{at: at(20), pid: 7, waits: map[int]uint64{7: 2e6, 8: 1e6}},  // 2 ms
		sample{at: at(40), pid: 7, waits: map[int]uint64{7: 2e6, 8: 91e6}}, // 90 ms: starved
		sample{at: at(60), pid: 9, waits: map[int]uint64{9: 500e6}},        // a restart: not read
		sample{at: at(80), pid: 9, waits: map[int]uint64{9: 505e6}},        // 5 ms
	)
	got := r.Summarize("redirect")
	want := Summary{Intervals: 3, Longest: 90 * time.Millisecond, P99: 90 * time.Millisecond, Starved: 1}
	if got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
	if got := r.Summarize("link"); got != (Summary{}) {
		t.Fatalf("a process never sampled: %+v", got)
	}
	var none *Record
	if got := none.Summarize("redirect"); got != (Summary{}) {
		t.Fatalf("nil record: %+v", got)
	}
}
