package containers

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/lab/compose"
)

// ryukDisabledEnv is testcontainers' switch for its reaper (Ryuk), the container that removes a
// crashed test's containers. Its image comes from a registry; where it is not present locally,
// the reaper cannot start and every run failed with "reaper: ... no such host". Without it the
// teardown is the backend's own: Close stops and removes every container, the network and the
// span forwarder, and the Docker tests list what is left by label afterwards.
const ryukDisabledEnv = "TESTCONTAINERS_RYUK_DISABLED"

// reaperOff disables Ryuk for this process when its image is not present locally and the
// user has not decided either way. It must run before testcontainers reads its configuration.
func reaperOff(ctx context.Context, log io.Writer) {
	if os.Getenv(ryukDisabledEnv) != "" {
		return
	}
	present, err := imagePresent(ctx, os.Getenv("DOCKER_HOST"), testcontainers.ReaperDefaultImage)
	if err != nil || present {
		return // Ryuk may work (or the engine does not answer: that error comes next, clearer)
	}
	os.Setenv(ryukDisabledEnv, "true")
	fmt.Fprintf(log, "containers: the reaper image %s is not present: Ryuk off (set %s=false to force it); this run removes its own containers and network on every exit path\n",
		testcontainers.ReaperDefaultImage, ryukDisabledEnv)
}

// imagePresent asks the engine whether an image is present locally (no pull).
func imagePresent(ctx context.Context, dockerHost, image string) (bool, error) {
	d, err := compose.NewDocker(dockerHost)
	if err != nil {
		return false, err
	}
	return d.ImagePresent(ctx, image)
}

// hostOverrideEnv tells testcontainers where published ports are. It guesses "the default
// bridge's gateway" whenever /.dockerenv exists (a lab inside a container), which misses
// ports published on 127.0.0.1 only: every wait timed out on this machine, a container
// running its own engine. With a local engine (a unix socket) the ports are on this host's
// loopback.
const hostOverrideEnv = "TESTCONTAINERS_HOST_OVERRIDE"

// loopbackHost points testcontainers at 127.0.0.1 for a local engine, unless the user chose.
func loopbackHost() {
	if _, set := os.LookupEnv(hostOverrideEnv); set {
		return
	}
	if h := os.Getenv("DOCKER_HOST"); h == "" || strings.HasPrefix(h, "unix://") {
		os.Setenv(hostOverrideEnv, "127.0.0.1")
	}
}
