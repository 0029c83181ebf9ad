package lab

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/localserver"
	"github.com/faultline/faultline/system/topology"
)

// upProcess runs `faultline up` with only the stores as a subprocess and waits until it is
// ready; it returns the command, the lab's state and every process of its tree.
func upProcess(t *testing.T) (*exec.Cmd, State, string, []int) {
	return upProcessOf(t, "link-db,analytics-db,redis")
}

// upProcessOf runs `faultline up --only only` ("" = the whole system) with extra flags.
func upProcessOf(t *testing.T, only string, extra ...string) (*exec.Cmd, State, string, []int) {
	t.Helper()
	needStores(t)
	needBinary(t)
	stateDir, dir := t.TempDir(), t.TempDir()
	eps := filepath.Join(dir, "endpoints.json")
	args := append([]string{"up", "--endpoints-file", eps, "--state-dir", stateDir}, extra...)
	if only != "" {
		args = append(args, "--only", only)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = testLog{t}, testLog{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A test that ends early must not leak the lab: SIGTERM, and whatever a SIGKILL
		// would leave is cleaned through the state dir before the test removes it.
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		_ = CleanLeftovers(stateDir, io.Discard)
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(eps); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("faultline up did not write its endpoints file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	labs := Running(stateDir)
	if len(labs) != 1 || labs[0].Pid != cmd.Process.Pid {
		t.Fatalf("running labs %+v, want the one of pid %d", labs, cmd.Process.Pid)
	}
	tree := localserver.Tree(cmd.Process.Pid)
	// up, 2 × (postmaster + its workers), redis.
	if len(tree) < 6 {
		t.Fatalf("process tree of up: %v", tree)
	}
	return cmd, labs[0], stateDir, tree
}

func waitAllGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var left []int
		for _, p := range pids {
			if localserver.Alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still alive %v after %v", left, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func assertStateGone(t *testing.T, st State) {
	t.Helper()
	if _, err := os.Stat(st.Tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s survived", st.Tmp)
	}
	for edge, addr := range st.Edges {
		if portOpen(addr) {
			t.Errorf("proxy %s still listening on %s", edge, addr)
		}
	}
}

func TestUpSIGTERMTearsDown(t *testing.T) {
	cmd, st, stateDir, tree := upProcess(t)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not exit after SIGTERM")
	}
	waitAllGone(t, tree, 5*time.Second)
	assertStateGone(t, st)
	if files, _ := filepath.Glob(filepath.Join(stateDir, "*.json")); len(files) > 0 {
		t.Errorf("state files left: %v", files)
	}
}

func TestUpSIGKILLLeavesNothingAfterCleanup(t *testing.T) {
	cmd, st, stateDir, tree := upProcess(t)
	sigkillAndCheck(t, cmd, st, stateDir, tree)
}

// TestUpSIGKILLFullSystem is the same with every service, NATS included.
func TestUpSIGKILLFullSystem(t *testing.T) {
	needServices(t)
	cmd, st, stateDir, tree := upProcessOf(t, "")
	if len(st.Components) != len(topology.Components()) {
		t.Fatalf("state lists %d components, want %d", len(st.Components), len(topology.Components()))
	}
	sigkillAndCheck(t, cmd, st, stateDir, tree)
}

func sigkillAndCheck(t *testing.T, cmd *exec.Cmd, st State, stateDir string, tree []int) {
	t.Helper()
	shm := localserver.SharedMemoryIDs(st.Tmp)
	if len(shm) != 2 {
		t.Errorf("shared memory segments of the two PostgreSQL servers: %v", shm)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: up gets no chance to clean up
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// The parent-death signal takes the children down with it; PostgreSQL's backends follow
	// their postmaster.
	waitAllGone(t, tree, 5*time.Second)
	for edge, addr := range st.Edges {
		if portOpen(addr) {
			t.Errorf("proxy %s still listening on %s", edge, addr)
		}
	}
	// What a process cannot take with it (temp dirs, the state file) the next Start removes.
	if len(Running(stateDir)) != 0 {
		t.Error("a dead lab is reported as running")
	}
	if err := CleanLeftovers(stateDir, testLog{t}); err != nil {
		t.Fatal(err)
	}
	assertStateGone(t, st)
	if files, _ := filepath.Glob(filepath.Join(stateDir, "*.json")); len(files) > 0 {
		t.Errorf("state files left: %v", files)
	}
	for _, id := range shm {
		if localserver.SharedMemoryExists(id) {
			t.Errorf("shared memory segment %d survived", id)
		}
	}
}

// TestCleanLeftoversKillsSurvivors covers a child that outlived its lab (a parent-death
// signal can be lost, e.g. when the thread that started it ended).
func TestCleanLeftoversKillsSurvivors(t *testing.T) {
	stateDir := t.TempDir()
	tmp, err := os.MkdirTemp("", "faultline-data-")
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "60")
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = child.Wait(); close(done) }()
	start, _ := localserver.StartTime(child.Process.Pid)
	// A dead owner: pid 0 is never alive.
	st := State{Pid: 0, Tmp: tmp, Components: map[string]ProcState{"redis": {Pid: child.Process.Pid, Start: start}}}
	if err := writeJSONAtomic(filepath.Join(stateDir, "0-x.json"), st); err != nil {
		t.Fatal(err)
	}
	// A live owner (us) must be left alone.
	me, _ := localserver.StartTime(os.Getpid())
	live := State{Pid: os.Getpid(), PidStart: me, Tmp: tmp}
	if err := writeJSONAtomic(filepath.Join(stateDir, "live.json"), live); err != nil {
		t.Fatal(err)
	}
	if err := CleanLeftovers(stateDir, testLog{t}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("leftover child not killed")
	}
	if _, err := os.Stat(filepath.Join(stateDir, "live.json")); err != nil {
		t.Error("the state file of a live lab was removed")
	}
	if _, err := os.Stat(filepath.Join(stateDir, "0-x.json")); !errors.Is(err, os.ErrNotExist) {
		t.Error("the state file of a dead lab survived")
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Error("the dead lab's temp dir survived")
	}
}
