// Package dockertest lets the tests that need a Docker engine run where one answers and skip,
// saying why, where none does; FAULTLINE_DOCKER_REQUIRED=1 (make docker-test) makes every such
// skip a failure, so CI cannot pass by skipping. It also lists what a run left behind.
package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

// Required says whether a missing engine, plugin or image fails the test instead of skipping it.
func Required() bool { return os.Getenv("FAULTLINE_DOCKER_REQUIRED") == "1" }

// skip skips, or fails under Required, with a message that says how to get what is missing.
func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("FAULTLINE_DOCKER_REQUIRED=1 but %s", msg)
	}
	t.Skipf("needs Docker: %s (make docker-test installs and starts it and builds the images offline)", msg)
}

// Docker runs the docker CLI (DOCKER_HOST and the rest from the environment, plus env) and
// returns its standard output; the error carries its standard error.
func Docker(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Require skips (or fails, see Required) unless the docker CLI reaches an engine and every
// image given is present locally: no test pulls from a registry it may not reach.
func Require(t testing.TB, images ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no containers")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		skip(t, "no docker CLI on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := Docker(ctx, nil, "version", "--format", "{{.Server.Version}}"); err != nil {
		skip(t, "no Docker engine answers (%v)", err)
	}
	var missing []string
	for _, img := range images {
		if _, err := Docker(ctx, nil, "image", "inspect", "--format", "{{.Id}}", img); err != nil {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		skip(t, "images %v are not present (scripts/docker-images.sh builds them; FAULTLINE_IMAGE, POSTGRES_IMAGE, ... select them)", missing)
	}
}

// RequireCompose is Require plus the Compose v2 plugin.
func RequireCompose(t testing.TB) {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := Docker(ctx, nil, "compose", "version"); err != nil {
		skip(t, "no Compose v2 plugin (%v)", err)
	}
}

// Leftovers lists the containers, networks and volumes carrying a label ("key=value"): what a
// run that cleaned up after itself leaves is nothing.
func Leftovers(ctx context.Context, label string) ([]string, error) {
	var out []string
	for _, kind := range [][]string{{"container", "ls", "-a"}, {"network", "ls"}, {"volume", "ls"}} {
		args := append(append([]string{}, kind...), "-q", "--filter", "label="+label)
		got, err := Docker(ctx, nil, args...)
		if err != nil {
			return nil, err
		}
		for _, id := range strings.Fields(got) {
			out = append(out, kind[0]+" "+id)
		}
	}
	return out, nil
}

// BridgeGateway is the host's address on Docker's default bridge: what host-gateway
// (host.docker.internal) resolves to in a container, where the lab listens for spans. Older
// engines (20.10) leave the default bridge's gateway out of IPAM: then it is the address of
// the bridge's interface (docker0).
func BridgeGateway(ctx context.Context) (string, error) {
	out, err := Docker(ctx, nil, "network", "inspect", "bridge", "--format",
		`{{range .IPAM.Config}}{{.Gateway}}{{end}}|{{index .Options "com.docker.network.bridge.name"}}`)
	if err != nil {
		return "", err
	}
	gw, iface, _ := strings.Cut(out, "|")
	if gw = strings.TrimSpace(gw); gw != "" {
		return gw, nil
	}
	if iface = strings.TrimSpace(iface); iface == "" || iface == "<no value>" {
		iface = "docker0"
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return "", fmt.Errorf("dockertest: the bridge network has no gateway: %w", err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return "", fmt.Errorf("dockertest: %s: %w", iface, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String(), nil
		}
	}
	return "", fmt.Errorf("dockertest: %s has no IPv4 address", iface)
}

// CPUWaits checks that a run on containers of this machine's engine read every service's
// waits for a CPU through most of its load (20 ms readings, at least half of the run's), as a
// run of processes does: the timing checks' allowance for the machine needs them.
func CPUWaits(t testing.TB, res *reports.Results) {
	t.Helper()
	got := map[string]int{}
	for _, w := range res.CPUWaits {
		got[w.Service] = w.Intervals
	}
	for _, c := range topology.Components() {
		if topology.KindOf(c) != topology.KindService {
			continue
		}
		if want := int(res.DurationS * 1000 / 20 / 2); got[c] < want {
			t.Errorf("cpu_waits of %s: %d intervals, want at least %d over %.1f s (%+v)", c, got[c], want, res.DurationS, res.CPUWaits)
		}
	}
}
