package compose

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Docker is a small client of the Docker Engine API: just what process faults and log
// collection need (find a compose service's container, kill, start, pause, unpause, inspect,
// logs). It speaks HTTP over the engine's unix socket or TCP.
type Docker struct {
	base   string // http://docker for a unix socket, else the TCP URL
	client *http.Client
}

// ErrNoContainer is returned when a compose service has no container in the project.
var ErrNoContainer = errors.New("compose: no container")

// NewDocker returns a client for host: "unix:///var/run/docker.sock" (the default when empty)
// or "tcp://host:port".
func NewDocker(host string) (*Docker, error) {
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("compose: docker host %q: %w", host, err)
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}
		return &Docker{base: "http://docker", client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
	case "tcp", "http":
		return &Docker{base: "http://" + u.Host, client: &http.Client{Timeout: 30 * time.Second}}, nil
	}
	return nil, fmt.Errorf("compose: docker host %q: want unix:// or tcp://", host)
}

// ContainerState is the part of a container's inspection the lab uses.
type ContainerState struct {
	ID      string
	Pid     int // its main process on the Engine's machine (0 when not running)
	Running bool
	Paused  bool
	Health  string // healthy, unhealthy, starting, or "" without a health check
	Env     map[string]string
	Labels  map[string]string
	// IPs are the container's addresses on its networks, by network name.
	IPs map[string]string
	// Published maps a container port ("18080/tcp") to the first host address it is
	// published on ("127.0.0.1:8080"; an unspecified host IP reads as 127.0.0.1).
	Published map[string]string
}

func (d *Docker) do(ctx context.Context, method, path string, ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("compose: docker %s %s: %w", method, path, err)
	}
	for _, c := range ok {
		if resp.StatusCode == c {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	var msg struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&msg)
	return nil, fmt.Errorf("compose: docker %s %s: %s: %s", method, path, resp.Status, msg.Message)
}

// Ping checks that the engine answers.
func (d *Docker) Ping(ctx context.Context) error {
	resp, err := d.do(ctx, http.MethodGet, "/_ping", http.StatusOK)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Find returns the id of the (non one-off) container of a compose service in a project.
func (d *Docker) Find(ctx context.Context, project, service string) (string, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {
		"com.docker.compose.project=" + project, "com.docker.compose.service=" + service,
	}})
	resp, err := d.do(ctx, http.MethodGet, "/containers/json?all=1&filters="+url.QueryEscape(string(filters)), http.StatusOK)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var list []struct {
		ID     string            `json:"Id"`
		Labels map[string]string `json:"Labels"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&list); err != nil {
		return "", fmt.Errorf("compose: docker list: %w", err)
	}
	for _, c := range list {
		if strings.EqualFold(c.Labels["com.docker.compose.oneoff"], "true") {
			continue // a `docker compose run` container, not the service
		}
		return c.ID, nil
	}
	return "", fmt.Errorf("%w for service %s in project %s", ErrNoContainer, service, project)
}

// Inspect returns a container's state, environment and labels.
func (d *Docker) Inspect(ctx context.Context, id string) (ContainerState, error) {
	resp, err := d.do(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/json", http.StatusOK)
	if err != nil {
		return ContainerState{}, err
	}
	defer resp.Body.Close()
	var raw struct {
		ID    string `json:"Id"`
		State struct {
			Pid     int
			Running bool
			Paused  bool
			Health  *struct{ Status string }
		}
		Config struct {
			Env    []string
			Labels map[string]string
		}
		NetworkSettings struct {
			Networks map[string]struct{ IPAddress string }
			Ports    map[string][]struct{ HostIp, HostPort string }
		}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&raw); err != nil {
		return ContainerState{}, fmt.Errorf("compose: docker inspect %s: %w", id, err)
	}
	st := ContainerState{ID: raw.ID, Pid: raw.State.Pid, Running: raw.State.Running, Paused: raw.State.Paused, Env: map[string]string{}, Labels: raw.Config.Labels,
		IPs: map[string]string{}, Published: map[string]string{}}
	for name, n := range raw.NetworkSettings.Networks {
		if n.IPAddress != "" {
			st.IPs[name] = n.IPAddress
		}
	}
	for port, bindings := range raw.NetworkSettings.Ports {
		for _, b := range bindings {
			if b.HostPort == "" {
				continue
			}
			ip := b.HostIp
			if ip == "" || ip == "0.0.0.0" || ip == "::" {
				ip = "127.0.0.1"
			}
			st.Published[port] = net.JoinHostPort(ip, b.HostPort)
			break
		}
	}
	if raw.State.Health != nil {
		st.Health = raw.State.Health.Status
	}
	for _, kv := range raw.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		st.Env[k] = v
	}
	return st, nil
}

// ImagePresent says whether an image is present in the engine (it never pulls).
func (d *Docker) ImagePresent(ctx context.Context, image string) (bool, error) {
	resp, err := d.do(ctx, http.MethodGet, "/images/"+url.PathEscape(image)+"/json", http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// Kill sends SIGKILL to a container's main process.
func (d *Docker) Kill(ctx context.Context, id string) error {
	return d.containerAction(ctx, id, "kill?signal=SIGKILL", http.StatusNoContent)
}

// containerAction POSTs /containers/ID/ACTION and accepts the given statuses.
func (d *Docker) containerAction(ctx context.Context, id, action string, ok ...int) error {
	resp, err := d.do(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/"+action, ok...)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Start starts a stopped container (a running one is left alone).
func (d *Docker) Start(ctx context.Context, id string) error {
	return d.containerAction(ctx, id, "start", http.StatusNoContent, http.StatusNotModified)
}

// Pause freezes every process of a container (the cgroup freezer: SIGSTOP's equivalent).
func (d *Docker) Pause(ctx context.Context, id string) error {
	return d.containerAction(ctx, id, "pause", http.StatusNoContent)
}

// Unpause thaws a paused container.
func (d *Docker) Unpause(ctx context.Context, id string) error {
	return d.containerAction(ctx, id, "unpause", http.StatusNoContent)
}

// Logs writes a container's stdout and stderr since a time to w, demultiplexing the engine's
// framed stream (containers without a TTY).
func (d *Docker) Logs(ctx context.Context, id string, since time.Time, w io.Writer) error {
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "since": {strconv.FormatInt(since.Unix(), 10)}}
	resp, err := d.do(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/logs?"+q.Encode(), http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return demux(bufio.NewReader(resp.Body), w)
}

// maxFrame bounds one log frame, so a corrupt header cannot make us allocate gigabytes.
const maxFrame = 16 << 20

// demux copies the payloads of Docker's multiplexed stream: frames of an 8-byte header
// (stream, 0, 0, 0, big-endian uint32 size) and size bytes.
func demux(r io.Reader, w io.Writer) error {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("compose: docker logs: %w", err)
		}
		if hdr[0] > 2 || hdr[1] != 0 || hdr[2] != 0 || hdr[3] != 0 {
			return fmt.Errorf("compose: docker logs: bad frame header %x", hdr)
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		if n > maxFrame {
			return fmt.Errorf("compose: docker logs: frame of %d bytes", n)
		}
		if _, err := io.CopyN(w, r, int64(n)); err != nil {
			return fmt.Errorf("compose: docker logs: %w", err)
		}
	}
}
