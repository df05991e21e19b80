package soak

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Admin keys given to every server this package starts.
const (
	AccessKey = "TKSOAKADMINKEY000001"
	SecretKey = "soak-test-secret-key-of-the-admin-00001"
)

// BuildTusk builds cmd/tusk into dir and returns the binary's path.
func BuildTusk(dir string) (string, error) {
	bin := filepath.Join(dir, "tusk")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tusk-data/tusk/cmd/tusk")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// Tusk is a running `tusk serve`.
type Tusk struct {
	cmd  *exec.Cmd
	URL  string
	Log  string
	done chan error
	// Ready is how long the process took from exec to listening.
	Ready time.Duration
}

// StartTusk runs `tusk serve` on dataDir on a random loopback port with the
// admin keys above and waits until it logs that it listens. extra flags
// are added to serve's.
func StartTusk(bin, dataDir, logFile string, extra ...string) (*Tusk, error) {
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-format", "json",
		"--min-free", "1048576", "--shutdown-timeout", "5s", "--no-pipelines"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TUSK_ACCESS_KEY="+AccessKey, "TUSK_SECRET_KEY="+SecretKey)
	cmd.Stdout, cmd.Stderr = lf, lf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &Tusk{cmd: cmd, Log: logFile, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); lf.Close() }()
	// The server announces readiness only in its log: poll it, bounded.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if addr := listeningAddr(logFile); addr != "" {
			p.URL = "http://" + addr
			p.Ready = time.Since(start)
			return p, nil
		}
		select {
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("tusk serve exited before listening (%v); log:\n%s", err, Tail(logFile, 30))
		case <-time.After(10 * time.Millisecond):
		}
	}
	p.Kill()
	return nil, fmt.Errorf("tusk serve did not listen within 60s; log:\n%s", Tail(logFile, 30))
}

// listeningAddr returns the addr of the "tusk listening" log line, if any.
func listeningAddr(logFile string) string {
	f, err := os.Open(logFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Msg  string `json:"message"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "tusk listening" && l.Addr != "" {
			return l.Addr
		}
	}
	return ""
}

// Pid is the server's process id.
func (p *Tusk) Pid() int { return p.cmd.Process.Pid }

// Alive reports whether the process has not exited.
func (p *Tusk) Alive() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

// Kill SIGKILLs the server (idempotent) and waits until it is gone.
func (p *Tusk) Kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	err := <-p.done
	p.done <- err
}

// Stop sends SIGTERM and waits up to timeout for a clean exit.
func (p *Tusk) Stop(timeout time.Duration) error {
	if p.cmd.ProcessState != nil {
		return errors.New("already exited")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("did not exit within %v of SIGTERM", timeout)
	}
}

// Tail returns the last n lines of a file.
func Tail(file string, n int) string {
	b, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
