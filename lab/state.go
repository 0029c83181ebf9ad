package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/internal/atomicfile"
	"github.com/faultline/faultline/internal/localserver"
)

// State is what a running lab records about itself in its state file: enough for another
// shell to find it (`faultline status`, `inject`, `heal`) and for the next Start to clean up
// after a lab that was killed with SIGKILL.
type State struct {
	Pid          int                  `json:"pid"`
	PidStart     uint64               `json:"pid_start"` // tells our pid from a recycled one
	StartedAt    time.Time            `json:"started_at"`
	Dir          string               `json:"dir"`
	OwnDir       bool                 `json:"own_dir"` // Dir is a temp dir to remove
	Tmp          string               `json:"tmp"`
	Profile      string               `json:"profile"`
	Toxiproxy    string               `json:"toxiproxy,omitempty"`
	External     bool                 `json:"external_toxiproxy,omitempty"`
	Control      string               `json:"control,omitempty"`
	Token        string               `json:"token,omitempty"` // for mutating control calls: the file is 0600
	Gateway      string               `json:"gateway,omitempty"`
	Endpoints    map[string]string    `json:"endpoints,omitempty"`
	Components   map[string]ProcState `json:"components"`
	Edges        map[string]string    `json:"edges,omitempty"` // edge -> proxy listen address
	StateVersion int                  `json:"state_version"`
}

// ProcState is one component process.
type ProcState struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// DefaultStateDir is $FAULTLINE_STATE_DIR or the user cache dir's faultline/labs.
func DefaultStateDir() string {
	if d := os.Getenv("FAULTLINE_STATE_DIR"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "faultline", "labs")
}

// StatePath returns this lab's state file.
func (l *Lab) StatePath() string { return l.statePath }

func (l *Lab) saveState() error {
	// Components starting together and exit handlers all save: one writer at a time.
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	if l.stateGone {
		return nil // torn down: a late writer must not bring the file back
	}
	if l.statePath == "" {
		if err := os.MkdirAll(l.o.StateDir, 0o700); err != nil {
			return fmt.Errorf("lab: state dir: %w", err)
		}
		l.statePath = filepath.Join(l.o.StateDir, strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(l.started.UnixNano(), 36)+".json")
	}
	start, _ := localserver.StartTime(os.Getpid())
	st := State{
		Pid: os.Getpid(), PidStart: start, StartedAt: l.started, Dir: l.dir, OwnDir: l.ownDir, Tmp: l.tmp,
		Profile: l.o.Profile, Toxiproxy: l.toxiURL, External: l.o.ToxiproxyURL != "", Control: l.ctlURL,
		Token: l.token, Components: map[string]ProcState{}, Edges: l.proxyAddr, StateVersion: 1,
	}
	if l.proxyAddr != nil {
		st.Gateway = l.Gateway()
	}
	if l.ctlURL != "" {
		st.Endpoints = l.Endpoints()
	}
	l.mu.Lock()
	for name, s := range l.procs {
		if pid := s.Pid(); pid != 0 {
			ps, _ := localserver.StartTime(pid)
			st.Components[name] = ProcState{Pid: pid, Start: ps}
		}
	}
	l.mu.Unlock()
	return writeJSONAtomic(l.statePath, st)
}

// writeJSONAtomic writes v to path, readable by its owner only (a state file holds the
// control token), through a temp file renamed into place.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// ReadState reads one state file.
func ReadState(path string) (State, error) {
	var st State
	b, err := os.ReadFile(path)
	if err != nil {
		return st, fmt.Errorf("lab: state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("lab: state %s: %w", path, err)
	}
	return st, nil
}

// Alive reports whether the lab that wrote st is still running.
func (st State) Alive() bool { return sameProcess(st.Pid, st.PidStart) }

func sameProcess(pid int, start uint64) bool {
	if pid <= 0 || !localserver.Alive(pid) {
		return false
	}
	got, ok := localserver.StartTime(pid)
	return ok && (start == 0 || got == start)
}

// stateFiles lists the state files in dir, newest first.
func stateFiles(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	sort.Slice(paths, func(i, j int) bool {
		a, _ := os.Stat(paths[i])
		b, _ := os.Stat(paths[j])
		return a != nil && b != nil && a.ModTime().After(b.ModTime())
	})
	return paths
}

// Running lists the state of every live lab in stateDir, newest first.
func Running(stateDir string) []State {
	var out []State
	for _, p := range stateFiles(stateDir) {
		if st, err := ReadState(p); err == nil && st.Alive() {
			out = append(out, st)
		}
	}
	return out
}

// CleanLeftovers finds labs in stateDir whose owner died without tearing down (SIGKILL,
// OOM, power cut of the terminal), kills what remains of their processes, removes their
// proxies from an external Toxiproxy and their temp dirs, and deletes their state files.
func CleanLeftovers(stateDir string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	var errs []error
	for _, path := range stateFiles(stateDir) {
		st, err := ReadState(path)
		if err != nil {
			// A torn write cannot happen (atomic rename); an unreadable file is junk.
			_ = os.Remove(path)
			continue
		}
		if st.Alive() {
			continue
		}
		var killed []string
		for name, p := range st.Components {
			if !sameProcess(p.Pid, p.Start) {
				continue
			}
			for _, pid := range localserver.Tree(p.Pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
			killed = append(killed, fmt.Sprintf("%s(%d)", name, p.Pid))
		}
		if st.External && st.Toxiproxy != "" {
			c := toxiclient.NewClient(st.Toxiproxy)
			for edge := range st.Edges {
				if p, err := c.Proxy(edge); err == nil && p.Listen == st.Edges[edge] {
					_ = p.Delete()
				}
			}
		}
		if st.Tmp != "" {
			localserver.ReleaseSharedMemory(st.Tmp)
		}
		for _, d := range []string{st.Tmp, ownedDir(st)} {
			if d != "" && strings.Contains(filepath.Base(d), "faultline-") {
				if err := os.RemoveAll(d); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		fmt.Fprintf(log, "lab: cleaned up after dead lab pid %d (killed %s)\n", st.Pid, strings.Join(killed, " "))
	}
	return errors.Join(errs...)
}

func ownedDir(st State) string {
	if st.OwnDir {
		return st.Dir
	}
	return ""
}
