package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestStartFor(t *testing.T) {
	cases := []struct {
		target      string
		wantNil     bool
		wantErr     bool
		leaveLoopOK bool
	}{
		{"", true, false, false},
		{"process", true, false, false},
		{"compose", false, false, true},
		{"containers", false, false, false},
		{"kubernetes", true, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			o := runOptions{target: tc.target}
			start, err := startFor(o)
			if (err != nil) != tc.wantErr {
				t.Fatalf("startFor(%q) error %v, wantErr %v", tc.target, err, tc.wantErr)
			}
			if (start == nil) != tc.wantNil {
				t.Errorf("startFor(%q) nil = %v, want %v", tc.target, start == nil, tc.wantNil)
			}
			if got := loadMayLeaveLoopback(o); got != tc.leaveLoopOK {
				t.Errorf("loadMayLeaveLoopback(%q) = %v, want %v", tc.target, got, tc.leaveLoopOK)
			}
		})
	}
}

func TestRunUnknownTargetIsUsage(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"run", "--target", "kubernetes", "scenarios/smoke.yaml"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "--target") {
		t.Fatalf("exit %d, stderr %q; want %d naming --target", code, errb.String(), exitUsage)
	}
}
