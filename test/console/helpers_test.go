package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// tuskBin is the tusk binary (`tusk worker` runs the pipelines' datums),
// built once by TestMain unless TUSK_BIN names one.
var tuskBin string

func TestMain(m *testing.M) {
	code := func() int {
		tuskBin = os.Getenv("TUSK_BIN")
		if tuskBin != "" {
			if abs, err := filepath.Abs(tuskBin); err == nil {
				tuskBin = abs
			}
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "tusk-console-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		tuskBin = filepath.Join(dir, "tusk")
		if out, err := exec.Command("go", "build", "-o", tuskBin, "github.com/tusk-data/tusk/cmd/tusk").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build tusk: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// start runs a gateway with pipelines (local runner).
func start(t *testing.T) *gatewaytest.Server {
	t.Helper()
	return gatewaytest.Start(t, gateway.Config{GCInterval: -1,
		Pipelines: gateway.PipelineConfig{WorkerCommand: []string{tuskBin, "worker"}, WorkDir: t.TempDir()}})
}

// adminCall calls the admin API as the admin user (basic auth) and decodes
// the answer into out (when not nil); it fails the test unless the status
// is want.
func adminCall(t *testing.T, srv *gatewaytest.Server, method, path string, body any, want int, out any) {
	t.Helper()
	keyCall(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey, method, path, body, want, out)
}

func keyCall(t *testing.T, srv *gatewaytest.Server, ak, sk, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string: // a pipeline spec
		rd, ct = strings.NewReader(b), "application/yaml"
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, srv.URL+"/api/v1"+path, rd)
	req.SetBasicAuth(ak, sk)
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// newUser makes a user (create_repos when creator) and returns its keys.
func newUser(t *testing.T, srv *gatewaytest.Server, name string, creator bool) (ak, sk string) {
	t.Helper()
	var nu apiv1.NewUser
	adminCall(t, srv, "POST", "/users", map[string]any{"name": name, "create_repos": creator}, http.StatusCreated, &nu)
	return nu.Key.AccessKey, nu.Key.SecretKey
}

// browser is a cookie-keeping HTTP client that speaks to the gateway as
// the console's page does.
type browser struct {
	t    *testing.T
	srv  *gatewaytest.Server
	c    *http.Client
	csrf string
}

func newBrowser(t *testing.T, srv *gatewaytest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, srv: srv, c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request (JSON body when body is not nil and not []byte) with
// the given headers and returns the status, headers and body.
func (b *browser) do(method, path string, body any, hdr map[string]string) (int, http.Header, []byte) {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, ok := body.([]byte); !ok && body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

// signIn signs in with the keys and keeps the CSRF token.
func (b *browser) signIn(ak, sk string) {
	b.t.Helper()
	st, _, body := b.do("POST", "/ui/session", map[string]string{"access_key": ak, "secret_key": sk}, nil)
	if st != http.StatusOK {
		b.t.Fatalf("sign in: %d %s", st, body)
	}
	var info struct{ User, CSRF string }
	if err := json.Unmarshal(body, &info); err != nil || info.CSRF == "" {
		b.t.Fatalf("sign in answer %s: %v", body, err)
	}
	b.csrf = info.CSRF
}

// withCSRF is the header of the session's CSRF token.
func (b *browser) withCSRF() map[string]string { return map[string]string{"X-Tusk-Csrf": b.csrf} }
