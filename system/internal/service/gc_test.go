package service

import "testing"

func TestGCPercentLeavesAnOperatorsGOGC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		want   int
		set    bool
	}{
		{"unset", func(string) string { return "" }, DefaultGCPercent, true},
		{"nil getenv", nil, DefaultGCPercent, true},
		{"GOGC=100", func(k string) string { return map[string]string{"GOGC": "100"}[k] }, 0, false},
		{"GOGC=off", func(k string) string { return map[string]string{"GOGC": "off"}[k] }, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, set := gcPercent(tc.getenv)
			if got != tc.want || set != tc.set {
				t.Errorf("gcPercent = %d, %v; want %d, %v", got, set, tc.want, tc.set)
			}
		})
	}
}
