package pipelines_test

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
	"github.com/tusk-data/tusk/pipelines/runnertest"
	"github.com/tusk-data/tusk/pipelines/worker"
)

// TestMain lets this test binary be the worker the local runner starts
// (TUSK_TEST_WORKER=1), so the tests need no tusk binary.
func TestMain(m *testing.M) {
	if os.Getenv("TUSK_TEST_WORKER") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		code := worker.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// testLocal is a local runner whose worker is this test binary.
func testLocal() *pipelines.Local {
	return pipelines.NewLocal(pipelines.LocalConfig{Command: []string{os.Args[0]}, Env: append([]string{"TUSK_TEST_WORKER=1"}, extraWorkerEnv...)})
}

func TestLocalRunnerConformance(t *testing.T) {
	runnertest.Run(t, func(t *testing.T) pipelines.Runner { return testLocal() })
}

// extraWorkerEnv is added to test workers' environment
// (TUSK_TEST_WORKER_ENV, comma-separated: e.g. TUSK_WORKER_NO_MOUNT_NS=1).
var extraWorkerEnv = func() []string {
	if s := os.Getenv("TUSK_TEST_WORKER_ENV"); s != "" {
		return strings.Split(s, ",")
	}
	return nil
}()

// TestLocalRunnerPfsMount: as root on Linux, each datum sees its own tree
// at /pfs (a private mount namespace) while the host's /pfs stays as it
// was; elsewhere (and when asked) the fallback (TUSK_PFS only) runs the same
// command, and /pfs is not the datum's.
func TestLocalRunnerPfsMount(t *testing.T) {
	ns := runtime.GOOS == "linux" && os.Geteuid() == 0
	nsWant := "a.txt\n"
	if !ns {
		nsWant = "none\n" // no namespace without root: the fallback runs
	}
	e := runnertest.NewEnv(t)
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"namespace", nil, nsWant},
		{"fallback", []string{"TUSK_WORKER_NO_MOUNT_NS=1"}, "none\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pipelines.NewLocal(pipelines.LocalConfig{Command: []string{os.Args[0]}, Env: append([]string{"TUSK_TEST_WORKER=1"}, c.env...)})
			task := e.Task(`(ls /pfs/in 2>/dev/null || echo none) > "$TUSK_PFS/out/ls.txt"`, []string{"a.txt"}, []string{"b.txt"})
			for i := range task.Datums {
				task.Datums[i].Prefix = task.Datums[i].ID + "/" + c.name + "/"
			}
			got, err := runnertest.RunTask(t, context.Background(), r, task)
			if err != nil {
				t.Fatal(err)
			}
			if !got["dataa"].OK() {
				t.Fatalf("%+v", got["dataa"])
			}
			if s, _ := e.Staged(t, "dataa/"+c.name+"/ls.txt"); s != c.want {
				t.Errorf("/pfs/in holds %q, want %q", s, c.want)
			}
			if c.name == "namespace" && ns {
				if s, _ := e.Staged(t, "datab/"+c.name+"/ls.txt"); s != "b.txt\n" {
					t.Errorf("the second datum's /pfs/in holds %q", s)
				}
			}
			mi, _ := os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(mi), " /pfs ") {
				t.Error("a /pfs mount leaked into the host's namespace")
			}
		})
	}
}
