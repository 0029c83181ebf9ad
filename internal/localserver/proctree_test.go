package localserver

import "testing"

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 1200, stime 300, cutime 40, cstime 5.
	stat := "4242 (post gres: (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1200 300 40 5 20 0 1 0 100 0 0"
	p, ok := parseStat(4242, stat)
	for _, c := range []struct {
		children bool
		want     int64
	}{{false, 1500}, {true, 1545}} {
		got := p.CPU
		if c.children {
			got += p.ChildCPU
		}
		if !ok || got != c.want {
			t.Errorf("children=%v: got %d, %v; want %d", c.children, got, ok, c.want)
		}
	}
	if p.Comm != "post gres: (x)" || p.PPid != 1 || p.State != 'S' {
		t.Errorf("read %+v", p)
	}
	if _, ok := parseStat(4242, "4242 (x) S 1 2"); ok {
		t.Error("a short stat line was read")
	}
}
