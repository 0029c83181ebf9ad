// Package config reads a service's settings from flags with environment equivalents (the flag wins).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// FlagSet is a flag.FlagSet whose defaults come from the environment.
type FlagSet struct {
	*flag.FlagSet
	getenv func(string) string
	errs   []error
}

// NewFlagSet returns a flag set for component name; usage and errors go to stderr.
func NewFlagSet(name string, getenv func(string) string, stderr io.Writer) *FlagSet {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &FlagSet{FlagSet: fs, getenv: getenv}
}

func envUsage(usage, env string) string {
	if env == "" {
		return usage
	}
	return usage + " (env " + env + ")"
}

// String defines a string flag; env (if set) replaces def.
func String(fs *FlagSet, name, env, def, usage string) *string {
	if v := fs.env(env); v != "" {
		def = v
	}
	return fs.String(name, def, envUsage(usage, env))
}

// Int defines an int flag; env (if set) replaces def.
func Int(fs *FlagSet, name, env string, def int, usage string) *int {
	if v := fs.env(env); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			fs.errs = append(fs.errs, fmt.Errorf("config: %s=%q (flag --%s): want an integer", env, v, name))
		} else {
			def = n
		}
	}
	return fs.Int(name, def, envUsage(usage, env))
}

// Duration defines a duration flag; env (if set) replaces def.
func Duration(fs *FlagSet, name, env string, def time.Duration, usage string) *time.Duration {
	if v := fs.env(env); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fs.errs = append(fs.errs, fmt.Errorf("config: %s=%q (flag --%s): want a duration like 200ms", env, v, name))
		} else {
			def = d
		}
	}
	return fs.Duration(name, def, envUsage(usage, env))
}

func (fs *FlagSet) env(name string) string {
	if name == "" {
		return ""
	}
	return strings.TrimSpace(fs.getenv(name))
}

// ErrHelp is returned by Parse when -h/--help was asked; usage was printed.
var ErrHelp = flag.ErrHelp

// ErrUsage matches (errors.Is) every error that is the caller's: a bad flag or value.
var ErrUsage = errors.New("usage")

type usageError struct{ error }

func (e usageError) Is(target error) bool { return target == ErrUsage }
func (e usageError) Unwrap() error        { return e.error }

// Usage wraps err so that errors.Is(err, ErrUsage) holds.
func Usage(err error) error { return usageError{err} }

// Parse parses args after the environment defaults; a bad flag or environment value is an
// error naming it. Positional arguments are refused: services take flags only.
func (fs *FlagSet) Parse(args []string) error {
	if err := fs.FlagSet.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ErrHelp
		}
		return Usage(fmt.Errorf("config: %s: %w", fs.Name(), err))
	}
	if fs.NArg() > 0 {
		return Usage(fmt.Errorf("config: %s: unexpected argument %q (flags only)", fs.Name(), fs.Arg(0)))
	}
	if len(fs.errs) > 0 {
		return Usage(errors.Join(fs.errs...))
	}
	return nil
}

// Common are the settings every service has (docs/contracts.md).
type Common struct {
	Listen    *string
	Profile   *string
	LogFormat *string
}

// DefaultListen is where a service listens when told nothing.
const DefaultListen = "127.0.0.1:8080"

// AddCommon defines --listen, --profile and --log-format.
func AddCommon(fs *FlagSet) *Common {
	return &Common{
		Listen:    String(fs, "listen", "LISTEN_ADDR", DefaultListen, "host:port to serve HTTP on"),
		Profile:   String(fs, "profile", "RESILIENCE_PROFILE", "default", "resilience profile: built-in name or YAML path"),
		LogFormat: String(fs, "log-format", "LOG_FORMAT", "json", "log format: json or text"),
	}
}

// Logger returns the slog logger for service writing to w in the chosen format.
func (c *Common) Logger(w io.Writer, service string) (*slog.Logger, error) {
	return NewLogger(w, *c.LogFormat, service)
}

// NewLogger builds a json or text slog logger tagged with service.
func NewLogger(w io.Writer, format, service string) (*slog.Logger, error) {
	var h slog.Handler
	switch format {
	case "json", "":
		h = slog.NewJSONHandler(w, nil)
	case "text":
		h = slog.NewTextHandler(w, nil)
	default:
		return nil, Usage(fmt.Errorf("config: --log-format %q: want json or text", format))
	}
	return slog.New(h).With("service", service), nil
}
