package config

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFlagWinsOverEnv(t *testing.T) {
	fs := NewFlagSet("svc", env(map[string]string{"LISTEN_ADDR": "127.0.0.1:1", "NATS_URL": "nats://env", "N": "5", "D": "2s"}), io.Discard)
	c := AddCommon(fs)
	nats := String(fs, "nats-url", "NATS_URL", "nats://def", "")
	n := Int(fs, "n", "N", 1, "")
	d := Duration(fs, "d", "D", time.Second, "")
	if err := fs.Parse([]string{"--listen", "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	if *c.Listen != "127.0.0.1:2" || *nats != "nats://env" || *n != 5 || *d != 2*time.Second || *c.Profile != "default" {
		t.Fatalf("listen=%s nats=%s n=%d d=%v profile=%s", *c.Listen, *nats, *n, *d, *c.Profile)
	}
}

func TestBadInputIsUsage(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--nope"}, "-nope"},
		{nil, []string{"extra"}, `unexpected argument "extra"`},
		{map[string]string{"N": "many"}, nil, "N=\"many\" (flag --n)"},
		{map[string]string{"D": "soon"}, nil, "(flag --d)"},
		{nil, []string{"--n", "x"}, "-n"},
	}
	for _, tc := range cases {
		fs := NewFlagSet("svc", env(tc.env), io.Discard)
		Int(fs, "n", "N", 1, "")
		Duration(fs, "d", "D", time.Second, "")
		err := fs.Parse(tc.args)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("args %v env %v: err = %v, want usage error mentioning %q", tc.args, tc.env, err, tc.want)
		}
	}
	fs := NewFlagSet("svc", nil, io.Discard)
	if err := fs.Parse([]string{"-h"}); !errors.Is(err, ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if _, err := NewLogger(io.Discard, "xml", "s"); !errors.Is(err, ErrUsage) {
		t.Errorf("bad log format: %v", err)
	}
}
