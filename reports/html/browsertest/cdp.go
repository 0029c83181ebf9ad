package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Browser is a headless Chromium driven over the DevTools protocol (CDP), for pages that must
// be clicked, not just loaded: one tab, every request and console message recorded. Host
// names other than 127.0.0.1 do not resolve, so a page reaching for the network fails.
type Browser struct {
	t       testing.TB
	cmd     *exec.Cmd
	ws      *wsConn
	session string
	closed  bool

	mu       sync.Mutex
	next     int
	waiting  map[int]chan cdpReply
	Requests []string // every URL the page requested
	Errors   []string // console errors, uncaught exceptions, failed loads
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

var devtoolsRe = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// Launch starts Chromium with a window of w×h and opens one blank tab; Close (registered
// with t.Cleanup) kills it.
func Launch(t testing.TB, w, h int) *Browser {
	t.Helper()
	bin := Chromium(t)
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--remote-debugging-port=0",
		"--remote-allow-origins=*", fmt.Sprintf("--window-size=%d,%d", w, h), "about:blank")
	// Its own process group: Close kills the renderers and helpers with it, so none is
	// still writing into the profile directory when the test removes it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &Browser{t: t, cmd: cmd, waiting: map[int]chan cdpReply{}}
	t.Cleanup(b.Close)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := devtoolsRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium: no DevTools address within 30 s")
	}
	ws, err := dialWS(wsURL)
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	b.ws = ws
	go b.readLoop()
	var target struct{ TargetID string }
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct{ SessionID string }
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	b.session = att.SessionID
	for _, m := range []string{"Runtime.enable", "Log.enable", "Network.enable", "Page.enable"} {
		b.Call(m, nil, nil)
	}
	b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": w, "height": h, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

// Close kills the browser and every process it started, and waits for them. Safe to call
// twice.
func (b *Browser) Close() {
	if b.ws != nil {
		b.ws.close()
	}
	if b.cmd.Process == nil || b.closed {
		return
	}
	b.closed = true
	pgid := b.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = b.cmd.Wait()
	// The helpers are reparented when the main process dies; wait until the group is gone.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// Call sends a command to the tab and decodes its result into out (may be nil).
func (b *Browser) Call(method string, params any, out any) {
	b.t.Helper()
	b.call(b.session, method, params, out)
}

func (b *Browser) call(session, method string, params any, out any) {
	b.t.Helper()
	if err := b.try(session, method, params, out); err != nil {
		b.t.Fatalf("cdp %s: %v", method, err)
	}
}

func (b *Browser) try(session, method string, params any, out any) error {
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan cdpReply, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	raw, _ := json.Marshal(msg)
	if err := b.ws.send(raw); err != nil {
		return err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return errors.New("browser connection closed")
		}
		if r.Error != nil {
			return errors.New(r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("no answer within 30 s")
	}
}

func (b *Browser) readLoop() {
	defer func() {
		b.mu.Lock()
		for id, ch := range b.waiting {
			close(ch)
			delete(b.waiting, id)
		}
		b.mu.Unlock()
	}()
	for {
		raw, err := b.ws.read()
		if err != nil {
			return
		}
		var m struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			cdpReply
		}
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m.cdpReply
			}
			continue
		}
		b.event(m.Method, m.Params)
	}
}

func (b *Browser) event(method string, params json.RawMessage) {
	var p struct {
		Type    string `json:"type"`
		Request struct {
			URL string `json:"url"`
		} `json:"request"`
		Entry struct {
			Level, Text, URL string
		} `json:"entry"`
		Args []struct {
			Value       any    `json:"value"`
			Description string `json:"description"`
		} `json:"args"`
		ExceptionDetails struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
		ErrorText string `json:"errorText"`
		Canceled  bool   `json:"canceled"`
	}
	_ = json.Unmarshal(params, &p)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch method {
	case "Network.requestWillBeSent":
		b.Requests = append(b.Requests, p.Request.URL)
	case "Runtime.consoleAPICalled":
		if p.Type == "error" || p.Type == "assert" {
			var parts []string
			for _, a := range p.Args {
				parts = append(parts, fmt.Sprint(a.Value, a.Description))
			}
			b.Errors = append(b.Errors, "console."+p.Type+": "+strings.Join(parts, " "))
		}
	case "Runtime.exceptionThrown":
		b.Errors = append(b.Errors, "exception: "+p.ExceptionDetails.Text+" "+p.ExceptionDetails.Exception.Description)
	case "Log.entryAdded":
		if p.Entry.Level == "error" {
			b.Errors = append(b.Errors, "log: "+p.Entry.Text+" "+p.Entry.URL)
		}
	case "Network.loadingFailed":
		// An event stream closed when the tab navigates or the test ends is not a page error.
		if !p.Canceled {
			b.Errors = append(b.Errors, "load failed: "+p.ErrorText)
		}
	}
}

// Navigate opens url and waits until the document has loaded.
func (b *Browser) Navigate(u string) {
	b.t.Helper()
	b.Call("Page.navigate", map[string]any{"url": u}, nil)
	b.WaitFor(`document.readyState === "complete"`, 15*time.Second)
}

// Eval evaluates a JavaScript expression in the page (promises awaited) and returns its
// value as JSON.
func (b *Browser) Eval(expr string) json.RawMessage {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.Call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true, "userGesture": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("eval %s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	return r.Result.Value
}

// WaitFor polls a JavaScript condition until it is true, or fails the test after d.
func (b *Browser) WaitFor(cond string, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if string(b.Eval("!!("+cond+")")) == "true" {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("page: %s still false after %v", cond, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Key presses one key (a printable character) on the page.
func (b *Browser) Key(key string) {
	b.t.Helper()
	for _, typ := range []string{"keyDown", "keyUp"} {
		p := map[string]any{"type": typ, "key": key, "code": "Key" + strings.ToUpper(key)}
		if typ == "keyDown" {
			p["text"] = key
		}
		b.Call("Input.dispatchKeyEvent", p, nil)
	}
}

// Screenshot saves the tab as a PNG named name in ArtifactDir and returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	var r struct{ Data string }
	b.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil || len(png) == 0 {
		b.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(ArtifactDir(b.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// Seen returns copies of the requests and errors recorded so far.
func (b *Browser) Seen() (requests, errs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.Requests...), append([]string(nil), b.Errors...)
}

// wsConn is the client side of a WebSocket (RFC 6455), just what CDP needs: text frames,
// masked when sent, possibly fragmented when received.
type wsConn struct {
	c   net.Conn
	r   *bufio.Reader
	wmu sync.Mutex
}

func dialWS(raw string) (*wsConn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(c, 1<<16)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	return &wsConn{c: c, r: r}, nil
}

func (w *wsConn) send(payload []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	var hdr bytes.Buffer
	hdr.WriteByte(0x81) // FIN, text
	switch n := len(payload); {
	case n < 126:
		hdr.WriteByte(0x80 | byte(n))
	case n < 1<<16:
		hdr.WriteByte(0x80 | 126)
		_ = binary.Write(&hdr, binary.BigEndian, uint16(n))
	default:
		hdr.WriteByte(0x80 | 127)
		_ = binary.Write(&hdr, binary.BigEndian, uint64(n))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	hdr.Write(mask)
	masked := make([]byte, len(payload))
	for i, c := range payload {
		masked[i] = c ^ mask[i%4]
	}
	_, err := w.c.Write(append(hdr.Bytes(), masked...))
	return err
}

func (w *wsConn) read() ([]byte, error) {
	var msg []byte
	for {
		h := make([]byte, 2)
		if _, err := io.ReadFull(w.r, h); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var x uint16
			if err := binary.Read(w.r, binary.BigEndian, &x); err != nil {
				return nil, err
			}
			n = uint64(x)
		case 127:
			if err := binary.Read(w.r, binary.BigEndian, &n); err != nil {
				return nil, err
			}
		}
		if n > 256<<20 {
			return nil, fmt.Errorf("websocket frame of %d bytes", n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(w.r, buf); err != nil {
			return nil, err
		}
		switch op {
		case 0x8:
			return nil, io.EOF
		case 0x9, 0xA: // ping, pong: Chromium does not ping its CDP clients; ignore
			continue
		}
		msg = append(msg, buf...)
		if fin {
			return msg, nil
		}
	}
}

func (w *wsConn) close() { _ = w.c.Close() }
