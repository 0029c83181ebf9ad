package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse proves Parse never panics, always explains a rejection with positioned errors,
// and that whatever it accepts is sound and survives a resolve/re-parse round trip.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("name: x\nduration: 1s\nload: [{name: a, request: GET /r/{code}, ramp: {from: 0, to: 9, over: 1s}}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("<<: {name: x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		sc, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list *Errors
			if !errors.As(err, &list) || len(list.List) == 0 {
				t.Fatalf("rejection without positioned errors: %T %v", err, err)
			}
			if sc != nil {
				t.Fatal("returned a scenario with errors")
			}
			return
		}
		if sc.Name == "" || sc.Duration <= 0 || sc.Duration.D() > MaxDuration || len(sc.Load) == 0 {
			t.Fatalf("accepted an incomplete scenario: %+v", sc)
		}
		for _, st := range sc.Load {
			if st.Rate <= 0 || st.Rate > MaxRate || st.Method == "" || st.Path == "" {
				t.Fatalf("accepted a bad stream: %+v", st)
			}
		}
		for _, fl := range sc.Faults {
			if fl.Target() == "" || fl.End() > sc.Duration.D() || fl.Kind == "" {
				t.Fatalf("accepted a bad fault: %+v", fl)
			}
		}
		for _, slo := range sc.SLOs {
			for _, th := range slo.Thresholds {
				if th.Raw == "" || th.Op == "" {
					t.Fatalf("threshold not parsed: %+v", slo)
				}
			}
		}
		assertRoundTrip(t, sc)
	})
}
