package otlp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"time"
)

// enqueueLocked queues a body for forwarding, never blocking the exporter; r.mu is held.
func (r *Receiver) enqueueLocked(it forwardItem) {
	if r.closed {
		r.stats.ForwardDropped++
		return
	}
	select {
	case r.fwd <- it:
	default:
		r.stats.ForwardDropped++
	}
}

// fwdCancel makes the forwarder stop at once (Close's deadline passed).
func (r *Receiver) fwdCancel() { r.fwdStop() }

// forwardLoop posts queued bodies to the forward endpoint until the queue is closed and
// drained, or fwdCancel is called.
func (r *Receiver) forwardLoop(ctx context.Context) {
	defer close(r.fwdDone)
	client := &http.Client{Timeout: 5 * time.Second}
	url := strings.TrimRight(r.opts.Forward, "/") + TracesPath
	for it := range r.fwd {
		if ctx.Err() != nil {
			r.countForward(false, true)
			continue
		}
		r.countForward(r.post(ctx, client, url, it), false)
	}
}

func (r *Receiver) post(ctx context.Context, c *http.Client, url string, it forwardItem) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(it.body))
	if err != nil {
		r.log.Warn("otlp: forward", "err", err)
		return false
	}
	req.Header.Set("Content-Type", it.ctype)
	if it.cenco != "" {
		req.Header.Set("Content-Encoding", it.cenco)
	}
	resp, err := c.Do(req)
	if err != nil {
		r.log.Debug("otlp: forward", "err", err)
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

func (r *Receiver) countForward(ok, dropped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case dropped:
		r.stats.ForwardDropped++
	case !ok:
		r.stats.ForwardErrors++
	}
}
