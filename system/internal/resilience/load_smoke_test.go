package resilience

import "testing"

func TestBuiltinsLoad(t *testing.T) {
	for _, n := range Builtins() {
		p, err := Load(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if p.Name != n {
			t.Errorf("%s: name %q", n, p.Name)
		}
	}
}
