package verdict

import "testing"

func TestMinSamples(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want int
	}{
		{"p(99)<200ms", 100},
		{"p(95)<300ms", 20},
		{"p(99.9)<1s", 1000},
		{"p(50)<10ms", 2},
		{"med<10ms", 2},
		{"p(100)<1s", 1},
		{"p(95)_ok<300ms", 20},
		{"errors<1%", 100},
		{"errors<=1%", 101},
		{"errors<5%", 20},
		{"errors<0.1%", 1000},
		{"errors<=0%", 1},
		{"errors>5%", 1},
		{"avg<100ms", 1},
		{"max<1s", 1},
		{"rate>=95/s", 1},
		{"goodput>=10/s", 1},
		{"p(99)>10ms", 1},
	} {
		th, err := ParseThreshold(c.raw)
		if err != nil {
			t.Fatalf("%s: %v", c.raw, err)
		}
		if got := th.MinSamples(); got != c.want {
			t.Errorf("%s: MinSamples %d, want %d", c.raw, got, c.want)
		}
	}
}
