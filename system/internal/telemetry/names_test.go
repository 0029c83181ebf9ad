package telemetry

import (
	"context"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// section returns the text of docs/contracts.md under the heading starting with title.
func section(t *testing.T, title string) string {
	b, err := os.ReadFile("../../../docs/contracts.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "## "+title)
	if i < 0 {
		t.Fatalf("contracts.md has no section %q", title)
	}
	s = s[i+3:]
	if j := strings.Index(s, "\n## "); j >= 0 {
		s = s[:j]
	}
	return s
}

func TestMetricNamesMatchContracts(t *testing.T) {
	doc := section(t, "Metric names")
	re := regexp.MustCompile("`([a-z_]+)(\\{[^`]*\\})?`")
	var inDoc []string
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		if strings.Contains(m[1], "_") && m[1] != "service" {
			inDoc = append(inDoc, m[1])
		}
	}
	if len(inDoc) < 15 {
		t.Fatalf("found only %d metric names in contracts.md: %v", len(inDoc), inDoc)
	}
	for _, n := range inDoc {
		if !slices.Contains(ContractMetrics, n) {
			t.Errorf("contracts.md names metric %s, no constant has it", n)
		}
	}
	for _, n := range ContractMetrics {
		if !slices.Contains(inDoc, n) {
			t.Errorf("constant metric %s is not in contracts.md", n)
		}
	}
	// And every one of them is registered (so /metrics exposes it once touched).
	tel, err := Setup(context.Background(), "svc", func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := tel.Metrics
	m.HTTPServerRequests.WithLabelValues("r", "GET", "200")
	m.HTTPServerDuration.WithLabelValues("r", "GET")
	m.HTTPClientRequests.WithLabelValues("e", "200")
	m.HTTPClientDuration.WithLabelValues("e")
	m.BreakerState.WithLabelValues("e")
	m.BreakerTransitions.WithLabelValues("e", "closed", "open")
	m.Retries.WithLabelValues("e")
	m.BulkheadRejections.WithLabelValues("e")
	m.Fallbacks.WithLabelValues("e", "fail_open")
	m.Timeouts.WithLabelValues("e")
	m.RateLimited.WithLabelValues("r")
	m.CacheRequests.WithLabelValues("hit")
	m.EventsPublished.WithLabelValues("s")
	m.EventsAcked.WithLabelValues("s")
	m.EventsDropped.WithLabelValues("s", "c")
	m.EventsConsumed.WithLabelValues("s", "processed")
	m.LimiterLimit.WithLabelValues("e")
	m.LimiterInFlight.WithLabelValues("e")
	m.LimiterQueued.WithLabelValues("e")
	m.LimiterRejections.WithLabelValues("e")
	m.ThrottlerRate.WithLabelValues("e")
	m.ThrottlerRejects.WithLabelValues("e")
	m.BudgetLeft.WithLabelValues("e")
	m.BudgetExceeded.WithLabelValues("e", "retry")
	m.Hedges.WithLabelValues("e")
	rr := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	for _, n := range ContractMetrics {
		if !regexp.MustCompile(`(?m)^` + n + `(_bucket)?\{[^}]*service="svc"`).MatchString(rr.Body.String()) {
			t.Errorf("%s not exposed with service label", n)
		}
	}
}

func TestAttributeNamesMatchContracts(t *testing.T) {
	doc := section(t, "Span attributes")
	for _, a := range ContractAttributes {
		if !strings.Contains(doc, "`"+a+"`") {
			t.Errorf("attribute %s not in contracts.md", a)
		}
	}
	re := regexp.MustCompile("`([a-z]+\\.[a-z_.]+)`")
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		if !slices.Contains(ContractAttributes, m[1]) {
			t.Errorf("contracts.md names attribute %s, no constant has it", m[1])
		}
	}
}
