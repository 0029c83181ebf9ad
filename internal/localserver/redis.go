package localserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RedisOptions configure Redis.
type RedisOptions struct {
	Dir     string    // parent directory for the working directory; a temp dir when empty
	Port    int       // 0 picks a free port
	Log     io.Writer // server output; ignored when LogFile is set
	LogFile string    // append server output to this file
	Binary  string    // default: redis-server on PATH
}

const redisMissing = "redis-server not found on PATH: install the Debian package redis-server (run `make deps`)"

// RedisBinary finds redis-server, or says what to install.
func RedisBinary() (string, error) {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrMissingBinary, redisMissing)
	}
	return p, nil
}

// Redis starts a redis-server without persistence on 127.0.0.1 and returns once it answers PING.
func Redis(ctx context.Context, o RedisOptions) (*Server, error) {
	bin := o.Binary
	if bin == "" {
		var err error
		if bin, err = RedisBinary(); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w: %s (%s)", ErrMissingBinary, redisMissing, bin)
	}
	dir, rm, err := serverDir(o.Dir, "faultline-redis-", nil)
	if err != nil {
		return nil, err
	}
	out, closeOut, tail, err := openLog(o.Log, o.LogFile)
	if err != nil {
		_ = os.RemoveAll(rm)
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := o.Port
		if port == 0 {
			if port, lastErr = FreePort(); lastErr != nil {
				break
			}
		}
		s := &Server{
			Name: "redis", Addr: hostPort(port), Dir: dir, DSN: "redis://" + hostPort(port) + "/0",
			path: bin,
			args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
				"--appendonly", "no", "--dir", dir, "--daemonize", "no"},
			stopSig: syscall.SIGTERM, out: out, closeOut: closeOut, tail: tail, rmDir: rm,
		}
		s.ready = func(ctx context.Context) error { return RedisPing(ctx, s.Addr) }
		s.mu.Lock()
		err := s.spawn()
		s.mu.Unlock()
		if err != nil {
			lastErr = err
			break
		}
		if err := s.waitReady(ctx, 15*time.Second); err != nil {
			lastErr = err
			_ = s.Kill(context.Background())
			if o.Port != 0 || ctx.Err() != nil || !strings.Contains(tail.String(), "in use") {
				break
			}
			continue
		}
		return s, nil
	}
	if closeOut != nil {
		_ = closeOut()
	}
	_ = os.RemoveAll(rm)
	return nil, lastErr
}

// RedisPing sends PING over RESP and expects PONG.
func RedisPing(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("localserver: redis answered %q", strings.TrimSpace(line))
	}
	return nil
}
