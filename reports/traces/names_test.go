package traces

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// systemNames is where the system keeps its telemetry names; the lab may not import it, so this
// test reads it as text.
var systemNames = filepath.Join("..", "..", "system", "internal", "telemetry", "names.go")

// TestNamesMatchSystem checks that every span attribute the analysis reads is spelled as the
// system writes it, and that the system writes no resilience or cache attribute the analysis
// does not know.
func TestNamesMatchSystem(t *testing.T) {
	src, err := os.ReadFile(systemNames)
	if os.IsNotExist(err) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: the system must define its telemetry names there", systemNames)
		}
		t.Skipf("%s does not exist yet", systemNames)
	}
	if err != nil {
		t.Fatal(err)
	}
	values := stringConsts(t, src)
	for _, n := range []string{AttrServiceName, AttrPeerService, AttrEdge, AttrAttempt, AttrRetries, AttrBreakerState,
		AttrBreakerRejected, AttrBulkheadRejected, AttrTimeout, AttrFallback, AttrCacheHit, AttrStatusCode,
		AttrQuotaChecked, AttrRateLimited, AttrRoute, AttrBulkheadInFlight, AttrBulkheadWaitUs,
		AttrLimiterLimit, AttrLimiterInFlight, AttrLimiterRejected, AttrThrottled, AttrBudgetExceeded, AttrHedges} {
		if !slices.Contains(values, n) {
			t.Errorf("attribute %q is not a constant in %s", n, systemNames)
		}
	}
	for _, n := range []string{EventBreakerTransition, EventRetry, EventFallback, EventHedge} {
		if !slices.Contains(values, n) {
			t.Errorf("span event %q is not a constant in %s", n, systemNames)
		}
	}
	for _, v := range values {
		if (strings.HasPrefix(v, "resilience.") || strings.HasPrefix(v, "cache.")) && !Kept(v) && !KeptEvent(v) {
			t.Errorf("the system defines span attribute or event %q, which the lab does not read: add it to KeptAttrs", v)
		}
	}
}

// stringConsts returns the values of every string constant in a Go file.
func stringConsts(t *testing.T, src []byte) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), systemNames, src, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", systemNames, err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for _, v := range vs.Values {
			if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					out = append(out, s)
				}
			}
		}
		return true
	})
	return out
}
