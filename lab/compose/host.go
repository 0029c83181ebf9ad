package compose

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/system/topology"
)

// The lab may run on the Docker host rather than in the compose network (load and faults then
// go to the ports the stack publishes on 127.0.0.1). There the service names do not resolve:
// the Engine API says where each container is and where its ports are published.

// hostsFromDocker fills Options.Hosts, when the lab is outside the compose network (the
// Toxiproxy service's name does not resolve here), with each container's address on the
// project's network. Explicit Hosts are kept.
func (s *System) hostsFromDocker(ctx context.Context) {
	s.outside = !resolves(ctx, ToxiproxyService)
	for _, c := range topology.Components() {
		s.mu.Lock()
		_, set := s.o.Hosts[c]
		s.mu.Unlock()
		if !set {
			s.refreshHost(ctx, c)
		}
	}
}

// refreshHost re-reads a component's container address when the lab found it through the
// Engine API (a restarted container may get another address on its network).
func (s *System) refreshHost(ctx context.Context, component string) {
	if s.docker == nil || !s.outside {
		return
	}
	id, err := s.container(ctx, component)
	if err != nil {
		return
	}
	st, err := s.docker.Inspect(ctx, id)
	if err != nil {
		return
	}
	ip := containerIP(st, s.o.Project)
	if ip == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.Hosts == nil {
		s.o.Hosts = map[string]string{}
	}
	s.o.Hosts[component] = net.JoinHostPort(ip, strconv.Itoa(ContainerPort(component)))
}

// containerIP prefers the address on a network of the project (PROJECT_default, ...).
func containerIP(st ContainerState, project string) string {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range st.IPs {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		if strings.HasPrefix(n, project+"_") {
			return st.IPs[n]
		}
	}
	if len(names) > 0 {
		return st.IPs[names[0]]
	}
	return ""
}

// publishedGateway is where the client->gateway proxy (container port) is published, when the
// lab reaches Toxiproxy on a loopback address ("" otherwise: the proxy port is reached as is).
func (s *System) publishedGateway(ctx context.Context, toxiHost, port string) string {
	if s.docker == nil || !isLoopback(toxiHost) {
		return ""
	}
	id, err := s.container(ctx, ToxiproxyService)
	if err != nil {
		return ""
	}
	st, err := s.docker.Inspect(ctx, id)
	if err != nil {
		return ""
	}
	return st.Published[port+"/tcp"]
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// resolves says whether a compose service name resolves here (the lab is in its network).
// Bounded: on a host without a reachable DNS server the answer must not take seconds.
func resolves(ctx context.Context, name string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := net.DefaultResolver.LookupHost(ctx, name)
	return err == nil
}
