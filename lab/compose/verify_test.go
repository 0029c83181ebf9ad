package compose

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/system/topology"
)

const (
	composeFile   = "../../docker-compose.yml"
	toxiproxyFile = "../../deploy/toxiproxy.json"
)

func TestComposeFileMatchesTopology(t *testing.T) {
	p, err := LoadProject(context.Background(), composeFile)
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := ReadProxies(toxiproxyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(p, proxies); err != nil {
		t.Fatalf("docker-compose.yml / deploy/toxiproxy.json drifted from topology.Edges():\n%v", err)
	}
	if len(proxies) != len(topology.Edges()) {
		t.Errorf("%d proxies, want one per edge (%d)", len(proxies), len(topology.Edges()))
	}
	// The rest of the stack the issue asks for.
	for _, s := range []string{"toxiproxy", "otel-collector", "jaeger", "prometheus", "grafana", "lab"} {
		if _, ok := p.Services[s]; !ok {
			t.Errorf("no service %s", s)
		}
	}
	if got := p.Services["lab"].Command; !slices.Contains(got, "--target") || !slices.Contains(got, "compose") {
		t.Errorf("lab command %q does not run against the compose target", got)
	}
	for _, c := range topology.Components() {
		if topology.KindOf(c) == topology.KindService && p.Services[c].Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == nil {
			t.Errorf("%s exports no traces", c)
		}
	}
}

func TestPrometheusScrapesEveryService(t *testing.T) {
	b, err := os.ReadFile("../../deploy/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range topology.Components() {
		if topology.KindOf(c) != topology.KindService {
			continue
		}
		if !strings.Contains(string(b), `"`+c+`:8080"`) {
			t.Errorf("deploy/prometheus.yml does not scrape %s:8080", c)
		}
	}
}

func TestComposeMountsExist(t *testing.T) {
	p, err := LoadProject(context.Background(), composeFile)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("../..")
	for name, svc := range p.Services {
		for _, v := range svc.Volumes {
			if v.Type != "bind" || v.Source == "/var/run/docker.sock" || strings.HasSuffix(v.Source, "/runs") {
				continue
			}
			if !strings.HasPrefix(v.Source, root) {
				t.Errorf("%s mounts %s from outside the repository", name, v.Source)
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts a missing path: %v", name, err)
			}
		}
	}
}

// Each bad fixture breaks one rule; Verify must name it.
func TestVerifyRejectsDrift(t *testing.T) {
	good, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := ReadProxies(toxiproxyFile)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		edit    func(yml string, ps []ProxyConfig) (string, []ProxyConfig)
		wantMsg string
	}{
		{"real address instead of proxy", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return strings.Replace(y, "BILLING_URL: http://toxiproxy:18085", "BILLING_URL: http://billing:8080", 1), ps
		}, "BILLING_URL"},
		{"missing proxy", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return y, slices.DeleteFunc(slices.Clone(ps), func(p ProxyConfig) bool { return p.Name == "link->link-db" })
		}, "edge link->link-db has no proxy"},
		{"wrong upstream", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			ps = slices.Clone(ps)
			ps[1].Upstream = "link:8080"
			return y, ps
		}, "upstream"},
		{"proxy that is no edge", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return y, append(slices.Clone(ps), ProxyConfig{Name: "gateway->billing", Listen: "0.0.0.0:19999", Upstream: "billing:8080", Enabled: true})
		}, "not an edge"},
		{"port on every interface", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return strings.Replace(y, `"127.0.0.1:${FAULTLINE_PROMETHEUS_PORT:-9090}:9090"`, `"${FAULTLINE_PROMETHEUS_PORT:-9090}:9090"`, 1), ps
		}, "loopback only"},
		{"started, not healthy", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return strings.Replace(y, "link-db: {condition: service_healthy}", "link-db: {condition: service_started}", 1), ps
		}, "depends on link-db"},
		{"a callee service's health awaited", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return strings.Replace(y, "billing: {condition: service_started}", "billing: {condition: service_healthy}", 1), ps
		}, "depends on billing with condition"},
		{"health check that probes the callees", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return strings.Replace(y, "http://127.0.0.1:8080/healthz", "http://127.0.0.1:8080/readyz", 1), ps
		}, "asks /readyz"},
		{"health checks in step", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return strings.Replace(y, "interval: 6900ms", "interval: 8100ms", 1), ps
		}, "services link-db, redis share the health-check interval 8.1s"},
		{"postgres without the lab's settings", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return strings.Replace(y, `"-c", "fsync=off", `, "", 1), ps
		}, "service link-db: command"},
		{"no health check", func(y string, ps []ProxyConfig) (string, []ProxyConfig) {
			return strings.Replace(y, `test: ["CMD", "redis-cli", "ping"]`, `disable: true`, 1), ps
		}, "service redis has no health check"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			yml, ps := tc.edit(string(good), proxies)
			dir := t.TempDir()
			// Bind mounts are resolved against the file's directory; keep them loadable.
			for _, d := range []string{"deploy", "dashboards/provisioning", "scenarios", "runs"} {
				if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			file := filepath.Join(dir, "docker-compose.yml")
			if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := LoadProject(context.Background(), file)
			if err != nil {
				t.Fatal(err)
			}
			err = Verify(p, ps)
			if !errors.Is(err, ErrDrift) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Verify = %v, want ErrDrift naming %q", err, tc.wantMsg)
			}
		})
	}
}

func TestComposeRejectsUnknownKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(file, []byte("services:\n  a:\n    image: x\n    helthcheck: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProject(context.Background(), file); err == nil {
		t.Fatal("a misspelt key loaded without error: schema validation is off")
	}
}

// deploy/toxiproxy.json is what ProxyConfigs says (the containers backend uses the latter).
func TestToxiproxyFileIsProxyConfigs(t *testing.T) {
	got, err := ReadProxies(toxiproxyFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := ProxyConfigs(); !slices.Equal(got, want) {
		t.Fatalf("deploy/toxiproxy.json differs from ProxyConfigs():\n got %+v\nwant %+v", got, want)
	}
	for _, e := range topology.Edges() {
		if ProxyPort(e.Name) == 0 {
			t.Errorf("edge %s has no proxy port", e.Name)
		}
	}
}

// promtool comes with Debian's prometheus package (make deps).
func TestPrometheusConfigIsValid(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		msg := "promtool not found: install the Debian package `prometheus` (make deps)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out, err := exec.Command(promtool, "check", "config", "--syntax-only", "../../deploy/prometheus.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}
