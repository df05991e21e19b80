//go:build linux

package pipelines_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
	"github.com/tusk-data/tusk/pipelines/runnertest"
	"github.com/tusk-data/tusk/pipelines/worker"
)

// startOrphanable starts this test binary as a local worker with a lease,
// running a datum whose command leaves `sleep 600` in the background; it
// returns the worker, its stdin (heartbeats) and the pid of that sleep,
// read from a FIFO the command writes once it runs.
func startOrphanable(t *testing.T, lease string) (*exec.Cmd, *os.File, int) {
	e := runnertest.NewEnv(t)
	fifo := filepath.Join(t.TempDir(), "pid")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	task := e.Task(`sleep 600 & echo $! > "$FIFO"; wait`, []string{"a.txt"})
	task.Env["FIFO"] = fifo
	in, _ := json.Marshal(task)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TUSK_TEST_WORKER=1", worker.EnvLease+"="+lease, worker.EnvParent+"="+strconv.Itoa(os.Getpid()))
	cmd.Env = append(cmd.Env, extraWorkerEnv...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = pr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	if _, err := pw.Write(append(in, '\n')); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(fifo) // blocks until the command opens it to write
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	f.Close()
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if perr != nil {
		t.Fatalf("the command wrote %q (%v)", line, err)
	}
	return cmd, pw, pid
}

// TestWorkerOrphan: a local worker whose gateway is gone (its stdin ends,
// or no heartbeat comes within its lease) kills its datum's processes,
// background ones too, and exits with worker.ExitOrphan without reporting
// the datum.
func TestWorkerOrphan(t *testing.T) {
	for _, c := range []struct {
		name, lease string
		orphan      func(stdin *os.File)
		says        string
	}{
		{"stdin ends", "1m", func(stdin *os.File) { stdin.Close() }, "closed the worker's stdin"},
		{"lease lapses", "300ms", func(stdin *os.File) { t.Cleanup(func() { stdin.Close() }) }, "no heartbeat"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd, stdin, sleepPid := startOrphanable(t, c.lease)
			c.orphan(stdin)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != worker.ExitOrphan {
				t.Fatalf("the worker ended with %v, want exit code %d; stderr:\n%s", err, worker.ExitOrphan, cmd.Stderr)
			}
			if s := cmd.Stderr.(*strings.Builder).String(); !strings.Contains(s, c.says) {
				t.Errorf("stderr %q does not say %q", s, c.says)
			}
			if err := syscall.Kill(sleepPid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("the datum's background sleep (pid %d) outlived its worker: kill(0) = %v", sleepPid, err)
			}
		})
	}
}

// TestReapKillsARecordedSurvivor: Reap kills the session of a worker
// recorded by another (dead) gateway, and leaves alone a process whose pid
// a record names with another start time (a reused pid).
func TestReapKillsARecordedSurvivor(t *testing.T) {
	dir := t.TempDir()
	start := func() *exec.Cmd {
		c := exec.Command("sleep", "600")
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		return c
	}
	write := func(c *exec.Cmd, skew uint64) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Process.Pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		st, _ := strconv.ParseUint(f[19], 10, 64)
		rec, _ := json.Marshal(map[string]any{"pid": c.Process.Pid, "start": st + skew, "gateway": 1, "job": "j"})
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(c.Process.Pid)+".json"), rec, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	survivor, reused := start(), start()
	write(survivor, 0)
	write(reused, 1)
	l := pipelines.NewLocal(pipelines.LocalConfig{RunDir: dir})
	if err := l.Reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := survivor.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the recorded survivor ended with %v, want killed", err)
	}
	if err := reused.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a process that reused a recorded pid was killed: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("records left: %v", ents)
	}
}
