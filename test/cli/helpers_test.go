package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from this run's output")

// Admin credentials of every test server.
const (
	adminKey    = "AKTESTADMIN000000001"
	adminSecret = "cli-test-admin-secret-0123456789abcdef"
)

// bin is the tusk binary built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		dir, err := os.MkdirTemp("", "tusk-cli-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin = os.Getenv("TUSK_BIN")
		if bin == "" {
			bin = filepath.Join(dir, "tusk")
			cmd := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", bin, "github.com/tusk-data/tusk/cmd/tusk")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// server is a running `tusk serve` subprocess.
type server struct {
	t       testing.TB
	dataDir string
	url     string
	log     string
	cmd     *exec.Cmd
	done    chan error
}

// startServer runs tusk serve on dataDir (a new temp dir when "") on a
// random port and waits until it listens. It is killed when the test ends.
func startServer(t testing.TB, dataDir string) *server {
	t.Helper()
	return startServerWith(t, dataDir, []string{"TUSK_ACCESS_KEY=" + adminKey, "TUSK_SECRET_KEY=" + adminSecret})
}

// startServerWith is startServer with env added to the environment (nil:
// no admin keys, so a first start generates them) and extra serve flags
// (given last, so they override the defaults above).
func startServerWith(t testing.TB, dataDir string, env []string, extra ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	logFile := filepath.Join(t.TempDir(), "serve.log")
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--log-format", "json", "--min-free", "1048576", "--shutdown-timeout", "5s"}, extra...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatal(err)
	}
	s := &server{t: t, dataDir: dataDir, log: logFile, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); lf.Close() }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := listeningAddr(logFile); addr != "" {
			s.url = "http://" + addr
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err
			b, _ := os.ReadFile(logFile)
			t.Fatalf("tusk serve exited before listening (%v):\n%s", err, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("tusk serve did not listen within 30s")
	return nil
}

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

// stop sends SIGTERM and waits for the server to exit (idempotent).
func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		err := <-s.done
		s.done <- err
	}
}

// cli runs the tusk binary as one user against a server.
type cli struct {
	t      testing.TB
	srv    *server
	env    []string
	config string // XDG_CONFIG_HOME
	dir    string // working directory ("" = the test's)
}

// as returns a CLI for the given keys ("" = anonymous).
func (s *server) as(ak, sk string) *cli {
	cfg := s.t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cfg, "XDG_CONFIG_HOME=" + cfg, "TZ=UTC",
		"TUSK_ENDPOINT=" + s.url}
	if ak != "" {
		env = append(env, "TUSK_ACCESS_KEY="+ak, "TUSK_SECRET_KEY="+sk)
	}
	return &cli{t: s.t, srv: s, env: env, config: cfg}
}

func (s *server) admin() *cli { return s.as(adminKey, adminSecret) }

// res is one run of the binary.
type res struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r res) String() string {
	return fmt.Sprintf("tusk %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs tusk with args (and stdin, when given via runIn).
func (c *cli) run(args ...string) res { return c.runIn("", args...) }

func (c *cli) runIn(stdin string, args ...string) res {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	r := res{args: args, stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("running tusk %v: %v", args, err)
	}
	return r
}

// ok runs tusk and fails the test unless it exits 0.
func (c *cli) ok(args ...string) res {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("%s", r)
	}
	return r
}

// json runs tusk -o json, which must succeed, and decodes its stdout.
func (c *cli) json(v any, args ...string) {
	c.t.Helper()
	r := c.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		c.t.Fatalf("tusk %v -o json: %v\n%s", args, err, r.stdout)
	}
}

// fail runs tusk, which must exit with code; it returns the result.
func (c *cli) fail(code int, args ...string) res {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code {
		c.t.Fatalf("want exit %d: %s", code, r)
	}
	return r
}

// apiError runs tusk -o json expecting failure and decodes the error JSON.
func (c *cli) apiError(args ...string) apiErr {
	c.t.Helper()
	r := c.fail(1, append(args, "-o", "json")...)
	var e apiErr
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil || e.Code == "" {
		c.t.Fatalf("no JSON error on stdout: %s", r)
	}
	if !strings.HasPrefix(r.stderr, "tusk: ") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 && len(e.Conflicts) == 0 {
		c.t.Fatalf("stderr is not one line: %q", r.stderr)
	}
	return e
}

type apiErr struct {
	Code      string   `json:"code"`
	Message   string   `json:"message"`
	Conflicts []string `json:"conflicts"`
}

// s3 returns an aws-sdk-go-v2 client for the server.
func (s *server) s3(ak, sk string) *s3.Client {
	o := s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url), UsePathStyle: true, RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Timeout: time.Minute}}
	if ak == "" {
		o.Credentials = aws.AnonymousCredentials{}
	} else {
		o.Credentials = credentials.NewStaticCredentialsProvider(ak, sk, "")
	}
	return s3.New(o)
}

func s3code(err error) string {
	var ae smithy.APIError
	if err == nil {
		return ""
	}
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}

// ---- golden files ----

// masks hide what changes from run to run. Fixed-width tokens (ids, times,
// keys) become placeholders of the same width, so tables stay aligned.
var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`http://127\.0\.0\.1:\d+`), "<ENDPOINT>"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "<SHA256>"},
	{regexp.MustCompile(`\b[0-9a-f]{32}\b`), "<COMMIT>"},
	{regexp.MustCompile(`\b[0-9a-f]{16}\b`), "<ID16>"},
	{regexp.MustCompile(`\b[0-9a-f]{12}\b`), "<ID>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`), "<TIME>"},
	{regexp.MustCompile(`\bTK[A-Z2-7]{18}\b`), "<ACCESSKEY>"},
	{regexp.MustCompile(`(Secret key: )\S+`), "${1}<SECRET>"},
	{regexp.MustCompile(`in \d+\.\ds\b`), "in <SECONDS>"},
}

func mask(s string) string {
	for _, m := range masks {
		if strings.Contains(m.with, "$") || m.with == "<ENDPOINT>" {
			s = m.re.ReplaceAllString(s, m.with)
			continue
		}
		s = m.re.ReplaceAllStringFunc(s, func(tok string) string {
			if len(tok) <= len(m.with) {
				return m.with
			}
			// Same width: <NAME> padded with dots inside the brackets.
			return m.with[:len(m.with)-1] + strings.Repeat(".", len(tok)-len(m.with)) + ">"
		})
	}
	return s
}

// transcript records a CLI session as text for a golden file.
type transcript struct {
	mu  sync.Mutex
	buf strings.Builder
}

// add runs tusk and records the command, its output and its exit code.
func (tr *transcript) add(c *cli, args ...string) res {
	c.t.Helper()
	r := c.run(args...)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	fmt.Fprintf(&tr.buf, "$ tusk %s\n", strings.Join(args, " "))
	tr.buf.WriteString(r.stdout)
	if r.stderr != "" {
		for _, l := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
			fmt.Fprintf(&tr.buf, "stderr: %s\n", l)
		}
	}
	if r.code != 0 {
		fmt.Fprintf(&tr.buf, "exit %d\n", r.code)
	}
	tr.buf.WriteString("\n")
	return r
}

// check compares the masked transcript with testdata/NAME.golden (or
// rewrites it with -update).
func (tr *transcript) check(t testing.TB, name string) {
	t.Helper()
	got := mask(tr.buf.String())
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./test/cli/ -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./test/cli/ -run %s -update rewrites it after review):\n%s",
			path, t.Name(), lineDiff(string(want), got))
	}
}

// lineDiff shows the first differing lines with some context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var lw, lg string
		if i < len(w) {
			lw = w[i]
		}
		if i < len(g) {
			lg = g[i]
		}
		if lw != lg {
			fmt.Fprintf(&b, "line %d:\n  want: %q\n  got:  %q\n", i+1, lw, lg)
			if shown++; shown >= 10 {
				b.WriteString("...\n")
				break
			}
		}
	}
	return b.String()
}
