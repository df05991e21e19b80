//go:build unix

package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/pipelines"
)

// TestRemoteWorkerLosesItsLease: a remote worker whose claim cannot be
// renewed, because the gateway refuses it (the claim was dropped, or its
// datum handed to another worker) or because the gateway is unreachable
// for a whole lease, kills the datum's command (its background children
// too) and exits with an error, reporting nothing.
func TestRemoteWorkerLosesItsLease(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int // the renewal's answer
		says   string
	}{
		{"refused", http.StatusConflict, "refused its renewal"},
		{"gateway gone", http.StatusServiceUnavailable, "not renewed for"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "pid")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			var claims, renewals, results atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == "GET":
					json.NewEncoder(w).Encode(pipelines.Task{Job: "j", Pipeline: "p", OutputRepo: "out",
						Cmd: []string{"sh", "-c", `sleep 600 & echo $! > "$FIFO"; wait`}, Env: map[string]string{"FIFO": fifo}})
				case strings.HasSuffix(r.URL.Path, "/claim"):
					if claims.Add(1) > 1 {
						json.NewEncoder(w).Encode(pipev1.TaskClaim{})
						return
					}
					json.NewEncoder(w).Encode(pipev1.TaskClaim{Token: "tok", LeaseMS: 1000,
						Datum: &pipelines.DatumTask{ID: "d1", Attempt: 1, Prefix: "d1/r-1/"}})
				case strings.HasSuffix(r.URL.Path, "/renew"):
					renewals.Add(1)
					w.WriteHeader(c.status)
					w.Write([]byte(`{"code":"Conflict","message":"no"}`))
				default:
					results.Add(1)
					w.Write([]byte("{}"))
				}
			}))
			defer srv.Close()
			rw := &Remote{Gateway: srv.URL, Task: "t1", Worker: "pod-a", AccessKey: "AK", SecretKey: "SK", Wait: time.Second}
			done := make(chan error, 1)
			go func() { done <- rw.Run(context.Background()) }()
			f, err := os.Open(fifo) // the command runs
			if err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(f).ReadString('\n')
			f.Close()
			sleepPid, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("the command wrote %q", line)
			}
			t.Cleanup(func() { _ = syscall.Kill(sleepPid, syscall.SIGKILL) })
			select {
			case err := <-done:
				if err == nil || !errors.Is(err, errLeaseLost) || !strings.Contains(err.Error(), c.says) {
					t.Fatalf("Run returned %v, want the lease lost (%q)", err, c.says)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the worker ran on without its lease")
			}
			if renewals.Load() == 0 || results.Load() != 0 {
				t.Errorf("%d renewals, %d results; want some renewals and no result", renewals.Load(), results.Load())
			}
			if runs(sleepPid) {
				t.Errorf("the datum's background sleep (pid %d) outlived the lost lease", sleepPid)
			}
		})
	}
}

// runs: pid is a process that is not a zombie (a killed process whose
// parent died waits for init to reap it).
func runs(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil // no /proc (not Linux)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}
