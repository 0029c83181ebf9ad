package lab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/system/topology"
)

// startComponents starts every selected component as soon as the components it calls are
// ready, so independent ones start together (the stores and NATS all at once).
func (l *Lab) startComponents(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ready := map[string]chan struct{}{}
	for _, c := range l.o.Components {
		ready[c] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for _, name := range l.o.Components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, dep := range dependencies(name) {
				ch, selected := ready[dep]
				if !selected {
					continue
				}
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
			}
			begin := time.Now()
			s, err := l.startOne(ctx, name)
			if err != nil {
				cancel(err)
				return
			}
			l.mu.Lock()
			l.procs[name] = s
			l.mu.Unlock()
			s.OnUnexpectedExit(func(err error) {
				l.logf("lab: %s exited on its own (%v); its log: %s; 'faultline heal %s' starts it again", name, err, l.logFile(name), name)
				_ = l.saveState()
			})
			l.logf("lab: %-12s ready in %-6v pid %-7d %s", name, time.Since(begin).Round(time.Millisecond), s.Pid(), l.Direct(name))
			_ = l.saveState()
			close(ready[name])
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

func (l *Lab) logFile(name string) string { return filepath.Join(l.dir, "logs", name+".log") }

func (l *Lab) startOne(ctx context.Context, name string) (*localserver.Server, error) {
	switch topology.KindOf(name) {
	case topology.KindPostgres:
		s, err := localserver.Postgres(ctx, localserver.PostgresOptions{
			Dir: l.tmp, Port: l.ports[name], Database: l.o.Database, LogFile: l.logFile(name),
		})
		if err != nil {
			return nil, fmt.Errorf("lab: %s: %w", name, err)
		}
		return s, nil
	case topology.KindRedis:
		s, err := localserver.Redis(ctx, localserver.RedisOptions{Dir: l.tmp, Port: l.ports[name], LogFile: l.logFile(name)})
		if err != nil {
			return nil, fmt.Errorf("lab: %s: %w", name, err)
		}
		return s, nil
	case topology.KindNATS:
		store := filepath.Join(l.tmp, "nats")
		monitor := hostPort(l.ports["nats-http"])
		return l.startChild(ctx, name, []string{"serve", "nats", "--listen", l.addr(name),
			"--store-dir", store, "--http-listen", monitor}, nil, "http://"+monitor+"/healthz")
	}
	args := []string{"serve", name, "--listen", l.addr(name), "--profile", l.o.Profile}
	return l.startChild(ctx, name, args, l.serviceEnv(name), "http://"+l.addr(name)+"/readyz")
}

// startChild re-executes the faultline binary as one component and waits until readyURL
// answers 200.
func (l *Lab) startChild(ctx context.Context, name string, args, env []string, readyURL string) (*localserver.Server, error) {
	client := &http.Client{Timeout: time.Second}
	ready := func(ctx context.Context) error { return GetJSON(ctx, client, readyURL, nil) }
	s, err := localserver.Process(ctx, localserver.ProcessOptions{
		Name: name, Path: l.o.Binary, Args: args, Env: append(baseEnv(), env...), Dir: l.dir,
		LogFile: l.logFile(name), Ready: ready, ReadyTimeout: l.o.ReadyTimeout,
	})
	if err != nil {
		if errors.Is(err, localserver.ErrMissingBinary) {
			return nil, fmt.Errorf("lab: %s: faultline binary %s: %w", name, l.o.Binary, err)
		}
		return nil, fmt.Errorf("lab: %s (log %s): %w", name, l.logFile(name), err)
	}
	return s, nil
}

// managedEnv are the variables the lab sets for services; inherited values are dropped so a
// service never sees a real address from the operator's shell.
var managedEnv = []string{"LISTEN_ADDR", "RESILIENCE_PROFILE", "LOG_FORMAT", "REDIRECT_URL", "LINK_URL",
	"ANALYTICS_URL", "REDIS_ADDR", "NATS_URL", "DATABASE_URL", "BILLING_URL", "SQLITE_PATH",
	"CLICK_BUFFER", "NATS_STORE_DIR", "NATS_HTTP_LISTEN"}

func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(managedEnv, k) || strings.HasPrefix(k, "OTEL_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// serviceEnv is a service's configuration: its own listen address and profile, and the
// proxy address of every edge it calls — never a real address.
func (l *Lab) serviceEnv(name string) []string {
	env := []string{"LISTEN_ADDR=" + l.addr(name), "RESILIENCE_PROFILE=" + l.o.Profile, "LOG_FORMAT=json"}
	for _, e := range topology.Edges() {
		if e.From == name && e.EnvVar != "" {
			addr := l.proxyAddr[e.Name]
			if l.o.Unproxied {
				addr = l.addr(e.To)
			}
			env = append(env, e.EnvVar+"="+EdgeURL(e, addr, l.o.Database))
		}
	}
	if name == "billing" {
		env = append(env, "SQLITE_PATH="+filepath.Join(l.tmp, "billing.db"))
	}
	if l.o.OTLPEndpoint != "" {
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT="+l.o.OTLPEndpoint, "OTEL_SERVICE_NAME="+name)
	}
	return env
}
