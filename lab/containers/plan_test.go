package containers

import (
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/lab/compose"
	"github.com/faultline/faultline/scenarios/runner"
	"github.com/faultline/faultline/system/topology"
)

// The runner drives this backend like the process one.
var _ runner.System = (*System)(nil)

func plan(t *testing.T, o Options, lo lab.Options) map[string]testcontainers.ContainerRequest {
	t.Helper()
	specs, err := Plan(o, lo, "net-1")
	if err != nil {
		t.Fatal(err)
	}
	if specs[0].Name != "toxiproxy" {
		t.Errorf("first container %s, want toxiproxy (every edge goes through it)", specs[0].Name)
	}
	out := map[string]testcontainers.ContainerRequest{}
	var order []string
	for _, s := range specs {
		out[s.Name] = s.Request
		order = append(order, s.Name)
	}
	if want := append([]string{"toxiproxy"}, topology.Components()...); !slices.Equal(order, want) {
		t.Errorf("start order %v, want %v", order, want)
	}
	return out
}

func TestPlanMatchesTopology(t *testing.T) {
	reqs := plan(t, Options{Image: "faultline:test"}, lab.Options{Profile: "aggressive", OTLPEndpoint: "http://172.30.0.1:43177"})
	for name, r := range reqs {
		if !slices.Equal(r.Networks, []string{"net-1"}) || !slices.Equal(r.NetworkAliases["net-1"], []string{name}) {
			t.Errorf("%s: networks %v aliases %v, want net-1 with alias %s", name, r.Networks, r.NetworkAliases, name)
		}
		if r.WaitingFor == nil {
			t.Errorf("%s has no wait strategy", name)
		}
		if r.Image == "" {
			t.Errorf("%s has no image", name)
		}
	}
	for _, c := range topology.Components() {
		r := reqs[c]
		if want := []string{itoaPort(compose.ContainerPort(c))}; !slices.Contains(r.ExposedPorts, want[0]) {
			t.Errorf("%s exposes %v, want %v", c, r.ExposedPorts, want)
		}
		// The lab's PostgreSQL settings, as on the other backends (with fsync on, commits
		// waited on the host's disk flushes: 100-200 ms INSERTs failed the smoke's create SLO).
		if topology.KindOf(c) == topology.KindPostgres && !slices.Equal(r.Cmd, []string{"postgres", "-c", "fsync=off", "-c", "synchronous_commit=on", "-c", "full_page_writes=off"}) {
			t.Errorf("%s: cmd %q, want the lab's PostgreSQL settings", c, r.Cmd)
		}
		if topology.KindOf(c) != topology.KindService {
			continue
		}
		if r.Image != "faultline:test" || !slices.Equal(r.Cmd, []string{"serve", c}) {
			t.Errorf("%s: image %s cmd %v", c, r.Image, r.Cmd)
		}
		for _, e := range topology.Edges() {
			if e.From != c || e.EnvVar == "" {
				continue
			}
			want := compose.EdgeValue(e, "toxiproxy", compose.ProxyPort(e.Name))
			if got := r.Env[e.EnvVar]; got != want {
				t.Errorf("%s: %s=%q, want %q (the proxy of %s)", c, e.EnvVar, got, want, e.Name)
			}
		}
		if got := r.Env["RESILIENCE_PROFILE"]; got != "aggressive" {
			t.Errorf("%s: profile %q", c, got)
		}
		// The forwarder's address as given, never testcontainers' host access (its SSH
		// sidecar image comes from a registry).
		if got := r.Env["OTEL_EXPORTER_OTLP_ENDPOINT"]; got != "http://172.30.0.1:43177" || len(r.HostAccessPorts) > 0 {
			t.Errorf("%s: OTLP %q via host ports %v", c, got, r.HostAccessPorts)
		}
	}
	if got := reqs["billing"].Env["SQLITE_PATH"]; !strings.HasPrefix(got, "/data/") {
		t.Errorf("billing SQLITE_PATH %q, want under /data (writable by the image's user)", got)
	}
	// Toxiproxy gets the same proxies as deploy/toxiproxy.json.
	tp := reqs["toxiproxy"]
	if len(tp.Files) != 1 || tp.Files[0].ContainerFilePath != "/config/toxiproxy.json" || !slices.Contains(tp.Cmd, "-config=/config/toxiproxy.json") {
		t.Fatalf("toxiproxy files %+v cmd %v", tp.Files, tp.Cmd)
	}
	b, err := io.ReadAll(tp.Files[0].Reader)
	if err != nil {
		t.Fatal(err)
	}
	var got []compose.ProxyConfig
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, compose.ProxyConfigs()) {
		t.Errorf("toxiproxy config %+v, want compose.ProxyConfigs()", got)
	}
	if !slices.Contains(tp.ExposedPorts, itoaPort(compose.ProxyPort("client->gateway"))) || !slices.Contains(tp.ExposedPorts, "8474/tcp") {
		t.Errorf("toxiproxy exposes %v: the API and client->gateway must reach the host", tp.ExposedPorts)
	}
}

// TestPlanPublishesOnLoopback: every port the host reaches is published on 127.0.0.1 only,
// as in docker-compose.yml (testcontainers' default is every interface).
func TestPlanPublishesOnLoopback(t *testing.T) {
	for name, r := range plan(t, Options{}, lab.Options{}) {
		if r.HostConfigModifier == nil {
			t.Errorf("%s: no host config modifier", name)
			continue
		}
		hc := &container.HostConfig{}
		r.HostConfigModifier(hc)
		for _, p := range r.ExposedPorts {
			b := hc.PortBindings[network.MustParsePort(p)]
			if len(b) != 1 || b[0].HostIP.String() != "127.0.0.1" {
				t.Errorf("%s: port %s bound %+v, want 127.0.0.1 only", name, p, b)
			}
		}
		if len(hc.PortBindings) != len(r.ExposedPorts) {
			t.Errorf("%s: %d bindings for %d exposed ports", name, len(hc.PortBindings), len(r.ExposedPorts))
		}
	}
}

// TestPlanImagesFromVariables: the same variables as docker-compose.yml pick the images
// (offline stand-ins), and their defaults are the upstream images.
func TestPlanImagesFromVariables(t *testing.T) {
	env := map[string]string{"TOXIPROXY_IMAGE": "faultline/toxiproxy-offline:2.12.0", "POSTGRES_IMAGE": "faultline/postgres-offline:15", "REDIS_IMAGE": "faultline/redis-offline:7"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{"upstream defaults", nil, map[string]string{"toxiproxy": ToxiproxyImage, "link-db": PostgresImage, "analytics-db": PostgresImage, "redis": RedisImage}},
		{"variables", env, map[string]string{"toxiproxy": env["TOXIPROXY_IMAGE"], "link-db": env["POSTGRES_IMAGE"], "analytics-db": env["POSTGRES_IMAGE"], "redis": env["REDIS_IMAGE"]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k := range env {
				t.Setenv(k, tc.env[k])
			}
			reqs := plan(t, Options{}, lab.Options{})
			for name, want := range tc.want {
				if got := reqs[name].Image; got != want {
					t.Errorf("%s: image %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestPlanProfileFileIsCopied(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(file, []byte("name: mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reqs := plan(t, Options{}, lab.Options{Profile: file})
	r := reqs["link"]
	if r.Env["RESILIENCE_PROFILE"] != profileInImage || len(r.Files) != 1 || r.Files[0].ContainerFilePath != profileInImage {
		t.Fatalf("profile env %q files %+v", r.Env["RESILIENCE_PROFILE"], r.Files)
	}
	if _, ok := r.Env["OTEL_EXPORTER_OTLP_ENDPOINT"]; ok || len(r.HostAccessPorts) > 0 {
		t.Error("no OTLP endpoint asked, but one configured")
	}
}

func TestPlanRejectsBadOTLPEndpoint(t *testing.T) {
	for _, ep := range []string{"127.0.0.1", "http://host", "http://h:port", "http://:4318"} {
		if _, err := Plan(Options{}, lab.Options{OTLPEndpoint: ep}, "n"); err == nil {
			t.Errorf("OTLP endpoint %q accepted", ep)
		}
	}
}

func TestImageDefaults(t *testing.T) {
	cases := []struct {
		name, given, env, want string
	}{
		{"explicit", "x:1", "y:2", "x:1"},
		{"from env", "", "y:2", "y:2"},
		{"default", "", "", DefaultImage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Image: tc.given}
			o.defaults(func(string) string { return tc.env })
			if o.Image != tc.want {
				t.Errorf("image %q, want %q", o.Image, tc.want)
			}
		})
	}
}

func itoaPort(n int) string { return port(n) }

// TestStopOrderCallersFirst ties the containers' teardown order to the topology: every
// component once, each caller before what it calls.
func TestStopOrderCallersFirst(t *testing.T) {
	pos := map[string]int{}
	for i, c := range stopOrder {
		pos[c] = i
	}
	if got, want := slices.Sorted(maps.Keys(pos)), slices.Sorted(slices.Values(topology.Components())); !slices.Equal(got, want) || len(stopOrder) != len(want) {
		t.Errorf("stop order %v, want each of %v once", stopOrder, want)
	}
	for _, e := range topology.Edges() {
		if e.From != topology.Client && pos[e.From] >= pos[e.To] {
			t.Errorf("%s: %s stops after %s", e.Name, e.From, e.To)
		}
	}
}
