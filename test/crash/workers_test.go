//go:build linux

package crash

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// markerCmd is a datum's command that counts its runs: each run leaves
// $MARKERS/<file>-<pid> and, when another run of the same datum is still
// alive, $MARKERS/overlap-<pid>; it sleeps until $MARKERS/release exists.
const markerCmd = `set -e
for f in "$TUSK_PFS"/inputs/*; do
  n=$(basename "$f")
  for o in "$MARKERS/$n"-*; do
    [ -e "$o" ] || continue
    p=${o##*-}
    if [ "$p" != $$ ] && kill -0 "$p" 2>/dev/null; then touch "$MARKERS/overlap-$$"; fi
  done
  touch "$MARKERS/$n-$$"
  while [ ! -e "$MARKERS/release" ]; do sleep 0.05; done
  cp "$f" "$TUSK_PFS/out/$n"
done
`

// TestKill9GatewayKillsItsWorkers: kill -9 of the gateway mid-datum; within
// the workers' lease no process of the old gateway's workers survives
// (their sessions, by /proc), and after the restart the datum's command
// never ran twice at once and the job still succeeds.
func TestKill9GatewayKillsItsWorkers(t *testing.T) {
	const lease = 2 * time.Second
	bin := tuskBinary(t)
	dir := t.TempDir()
	markers := filepath.Join(dir, "markers")
	if err := os.Mkdir(markers, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	args := []string{"--pipeline-worker-lease", lease.String()}
	p := startServer(t, bin, data, filepath.Join(dir, "serve1.log"), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newClient(p.url, accessKey, secretKey)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("inputs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("inputs"), Key: aws.String("d1"), Body: strings.NewReader("one")}); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "spec.json")
	sp, _ := json.Marshal(map[string]any{
		"name":      "marker",
		"input":     map[string]any{"pfs": map[string]any{"repo": "inputs", "glob": "/*"}},
		"transform": map[string]any{"cmd": []string{"sh"}, "stdin": []string{markerCmd}, "env": map[string]string{"MARKERS": markers}},
	})
	if err := os.WriteFile(spec, sp, 0o644); err != nil {
		t.Fatal(err)
	}
	cli(t, bin, p.url, "pipeline", "create", "-f", spec)

	// The datum runs: its marker appears (the service announces nothing
	// outside the process; poll the directory).
	first := waitFor(t, 30*time.Second, "the datum's first run", func() []string { return runs(markers, "d1") })
	recs := workerRecords(t, filepath.Join(data, "workers"))
	if len(recs) == 0 {
		t.Fatal("no worker recorded under the data dir while a datum runs")
	}
	p.kill()

	// Within the lease, nothing of the old workers runs: not the workers,
	// not the command, not its sleep (all in the workers' sessions).
	waitFor(t, lease+time.Second, "the old workers' sessions to be gone", func() []string {
		if left := inSessions(recs); len(left) > 0 {
			return nil
		}
		return []string{"gone"}
	})
	pid, _ := strconv.Atoi(strings.TrimPrefix(first[0], "d1-"))
	if alive(pid) {
		t.Errorf("the datum's command (pid %d) survived its gateway", pid)
	}

	// Restart: the job resumes and runs the datum again, alone.
	if err := os.WriteFile(filepath.Join(markers, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p = startServer(t, bin, data, filepath.Join(dir, "serve2.log"), args...)
	cli(t, bin, p.url, "job", "wait", "-p", "marker", "--timeout", "2m")
	all := runs(markers, "d1")
	if len(all) < 2 {
		t.Errorf("runs of d1: %v, want the killed one and the resumed one", all)
	}
	if ov, _ := filepath.Glob(filepath.Join(markers, "overlap-*")); len(ov) > 0 {
		t.Errorf("the datum's command ran twice at once: %v (runs %v)", ov, all)
	}
	c = newClient(p.url, accessKey, secretKey)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("marker"), Key: aws.String("d1")}); err != nil {
		t.Errorf("the job's output: %v", err)
	}
	if err := p.stop(10 * time.Second); err != nil {
		t.Errorf("tusk serve did not stop cleanly: %v", err)
	}
}

// cli runs the tusk CLI against url as the admin; it fails the test unless
// it exits 0.
func cli(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TUSK_ENDPOINT="+url, "TUSK_ACCESS_KEY="+accessKey, "TUSK_SECRET_KEY="+secretKey,
		"XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tusk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitFor polls cond (a process outside this one announces nothing) until
// it returns something, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() []string) []string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if got := cond(); len(got) > 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runs lists the run markers of datum file name.
func runs(markers, name string) []string {
	m, _ := filepath.Glob(filepath.Join(markers, name+"-*"))
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// workerRecords reads the session ids (the workers' pids) the local runner
// recorded.
func workerRecords(t *testing.T, dir string) []int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out []int
	for _, f := range m {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r struct {
			PID int `json:"pid"`
		}
		if json.Unmarshal(b, &r) == nil && r.PID > 0 {
			out = append(out, r.PID)
		}
	}
	return out
}

// stat returns the state and session of pid from /proc.
func stat(pid int) (state string, session int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 4 {
		return "", 0, false
	}
	session, _ = strconv.Atoi(f[3])
	return f[0], session, true
}

// alive: pid runs (a zombie runs nothing).
func alive(pid int) bool {
	st, _, ok := stat(pid)
	return ok && st != "Z" && st != "X"
}

// inSessions lists the live processes of the given sessions.
func inSessions(sids []int) []int {
	want := map[int]bool{}
	for _, s := range sids {
		want[s] = true
	}
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, sid, ok := stat(pid); ok && want[sid] && st != "Z" && st != "X" {
			out = append(out, pid)
		}
	}
	return out
}
