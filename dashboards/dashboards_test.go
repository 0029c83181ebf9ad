package dashboards

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestDashboardsAreValid(t *testing.T) {
	ds, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"faultline-adaptive", "faultline-cache", "faultline-events", "faultline-red", "faultline-resilience", "faultline-scenario"}
	var got []string
	for _, d := range ds {
		got = append(got, d.UID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dashboards %v, want %v", got, want)
	}
}

func TestLoadRejectsBrokenRules(t *testing.T) {
	cases := map[string]string{
		"uid-mismatch.json":     "want the file name",
		"empty-expr.json":       "is empty",
		"other-datasource.json": "data source",
		"duplicate-id.json":     "used twice",
	}
	_, err := Load("testdata/bad")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load(testdata/bad) = %v, want ErrInvalid", err)
	}
	for file, msg := range cases {
		found := false
		for _, line := range strings.Split(err.Error(), "\n") {
			if strings.Contains(line, file) && strings.Contains(line, msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error for %s naming %q in:\n%v", file, msg, err)
		}
	}
}

func TestMetricNames(t *testing.T) {
	cases := []struct {
		name, expr string
		want       []string
	}{
		{"bare", "up", []string{"up"}},
		{"matchers and range", `rate(http_server_requests_total{code=~"5..",route="x y"}[1m])`, []string{"http_server_requests_total"}},
		{"aggregation with by", "sum by (service, route) (rate(a_total[1m]))", []string{"a_total"}},
		{"by after", "sum(rate(a_total[5m])) by (le)", []string{"a_total"}},
		{"histogram", "histogram_quantile(0.99, sum by (le) (rate(h_bucket[1m])))", []string{"h_bucket"}},
		{"binary with on", "sum by (s) (a) - on (s) group_right sum by (s, t) (b)", []string{"a", "b"}},
		{"or vector", "sum(rate(x_total[1m])) or vector(0)", []string{"x_total"}},
		{"numbers", "a * 1e3 > 0.5", []string{"a"}},
		{"string with metric-like text", `label_replace(a, "dst", "fake_metric", "src", "(.*)")`, []string{"a"}},
		{"keywords", "a and b unless c offset 5m", []string{"a", "b", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MetricNames(tc.expr); !slices.Equal(got, tc.want) {
				t.Errorf("MetricNames(%q) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}

func FuzzMetricNames(f *testing.F) {
	for _, s := range []string{"up", `sum by (a) (rate(b{c="d"}[1m]))`, "{", "[[", `"unterminated`, "by ((("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, n := range MetricNames(expr) {
			if n == "" || strings.ContainsAny(n, "{}[]()\" ") {
				t.Fatalf("MetricNames(%q) returned %q", expr, n)
			}
		}
	})
}

// contractMetrics reads the Metric* constants of the system's telemetry package from source:
// the package is internal to system/, so the compiler keeps us from importing it.
func contractMetrics(t *testing.T) map[string]bool {
	t.Helper()
	file := filepath.Join("..", "system", "internal", "telemetry", "names.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Metric") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out[v] = true
				// A histogram is selected through its series.
				if strings.HasSuffix(v, "_duration_seconds") {
					for _, s := range []string{"_bucket", "_sum", "_count"} {
						out[v+s] = true
					}
				}
			}
		}
	}
	if len(out) < 18 {
		t.Fatalf("read only %d metric names from %s", len(out), file)
	}
	return out
}

// prometheusOwn are series Prometheus makes itself for every target.
var prometheusOwn = map[string]bool{"up": true}

func TestDashboardsUseOnlyContractMetricNames(t *testing.T) {
	known := contractMetrics(t)
	ds, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		for _, expr := range d.Exprs() {
			names := MetricNames(expr)
			if len(names) == 0 {
				t.Errorf("%s: %q selects no metric", d.UID, expr)
			}
			for _, n := range names {
				if !known[n] && !prometheusOwn[n] {
					t.Errorf("%s: %q uses %q, not a name of system/internal/telemetry/names.go", d.UID, expr, n)
				}
			}
		}
	}
}
