package scenarios

import (
	"testing"

	"github.com/faultline/faultline/reports/conformance"
)

func TestConformanceSkips(t *testing.T) {
	sc, err := ParseFile("testdata/conformance.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := sc.Expect.Conformance.Skips()
	want := []conformance.Skip{
		{Edge: "link->link-db", Policy: "timeout", Reason: "a transaction's commit is not cut by the timeout"},
		{Edge: "redirect->link", Policy: "circuit_breaker", Reason: "the whole breaker group"},
		{Route: "create", Policy: "rate_limit", Reason: "setup bursts on purpose"},
	}
	if len(got) != len(want) {
		t.Fatalf("skips = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("skip %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if (&Scenario{}).Expect.Conformance.Skips() != nil {
		t.Error("a scenario without expect.conformance skips something")
	}
}
