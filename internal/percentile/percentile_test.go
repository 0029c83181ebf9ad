package percentile

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestOfNearestRank(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct{ p, want float64 }{
		{50, 5}, {90, 9}, {95, 10}, {99, 10}, {100, 10}, {10, 1}, {11, 2}, {0.1, 1}, {0, 1}, {-5, 1}, {150, 10},
	} {
		if got := Of(v, c.p); got != c.want {
			t.Errorf("Of(1..10, %g) = %g, want %g", c.p, got, c.want)
		}
	}
	if got := Of([]float64(nil), 99); got != 0 {
		t.Errorf("Of(nil, 99) = %g, want 0", got)
	}
	// 1000 values: p99 must be the 990th, not an interpolation.
	big := make([]float64, 1000)
	for i := range big {
		big[i] = float64(i + 1)
	}
	if got := Of(big, 99); got != 990 {
		t.Errorf("p99 of 1..1000 = %g, want 990", got)
	}
}

func TestQuantileIsOfAsAFraction(t *testing.T) {
	// 60 values is where rounding q·n (the bench's old rule) and ⌈q·n⌉ part for p99.
	d := make([]time.Duration, 60)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		if got, want := Quantile(d, q), Of(d, q*100); got != want {
			t.Errorf("Quantile(%g) = %v, Of(%g) = %v", q, got, q*100, want)
		}
	}
	if got := Quantile(d, 0.99); got != 60*time.Millisecond {
		t.Errorf("p99 of 60 values = %v, want the 60th (⌈59.4⌉)", got)
	}
	if got := Quantile([]time.Duration(nil), 0.5); got != 0 {
		t.Errorf("Quantile(nil) = %v, want 0", got)
	}
}

// TestOneDefinition ties every percentile of the module to this package: a function of
// another package whose name says percentile or quantile is a second definition, and two
// definitions drift (they did: the bench rounded q·n where the SLOs took ⌈q·n⌉).
func TestOneDefinition(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	self, _ := filepath.Abs(".")
	named := regexp.MustCompile(`(?i)percentile|quantile|nearestrank`)
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == self || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && named.MatchString(fn.Name.Name) {
				t.Errorf("%s: func %s: a second percentile; call percentile.Of or percentile.Quantile", fset.Position(fn.Pos()), fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
