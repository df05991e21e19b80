package k8stest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	watchtools "k8s.io/client-go/tools/watch"
)

// Version is the Kubernetes version of the control plane Start runs; the
// default binary directory is keyed by it.
const Version = "v1.37.2"

// startTimeout bounds each start-up phase (kine listening, the apiserver
// ready, the controller manager working). The notes measured about 3 s to
// ready on an idle machine; the bound leaves room for a loaded one.
const startTimeout = 2 * time.Minute

// Cluster is a running control plane. Its fields are read-only.
type Cluster struct {
	Admin      *rest.Config // system:masters, through a static bearer token
	Kubeconfig string       // path of an admin kubeconfig file (same token and CA)
	Server     string       // https://127.0.0.1:PORT
	CAData     []byte       // PEM of the CA that signed the serving certificate

	dir        string
	pki        *pki
	adminToken string
	admin      kubernetes.Interface
	kinePort   int
	kine       *proc
	apiserver  *proc
	cm         *proc
}

// binaries are the paths of the three control-plane commands.
type binaries struct{ kine, apiserver, cm string }

// binDir is $TUSK_K8S_BIN or ~/.cache/tusk-test/k8s-<Version>/bin, where
// scripts/install-k8s-test.sh installs.
func binDir() (string, error) {
	if d := os.Getenv("TUSK_K8S_BIN"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory (%v): set TUSK_K8S_BIN", err)
	}
	return filepath.Join(home, ".cache", "tusk-test", "k8s-"+Version, "bin"), nil
}

// findBinaries fails the test, saying how to install them, when any of the
// commands is missing or not executable.
func findBinaries(t testing.TB) binaries {
	t.Helper()
	dir, err := binDir()
	if err != nil {
		t.Fatalf("k8stest: %v; run scripts/install-k8s-test.sh", err)
	}
	b := binaries{
		kine:      filepath.Join(dir, "kine"),
		apiserver: filepath.Join(dir, "kube-apiserver"),
		cm:        filepath.Join(dir, "kube-controller-manager"),
	}
	var missing []string
	for _, p := range []string{b.kine, b.apiserver, b.cm} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("k8stest: control-plane binaries missing: %s: run scripts/install-k8s-test.sh (or `make test-deps`; TUSK_K8S_BIN overrides %s)",
			strings.Join(missing, ", "), dir)
	}
	return b
}

// Start starts kine, kube-apiserver and kube-controller-manager on free
// loopback ports under t.TempDir(), and returns once the apiserver's
// /readyz is ok and the controller manager has created the default
// ServiceAccount of namespace default. It builds nothing: missing binaries
// fail the test with "run scripts/install-k8s-test.sh". A t.Cleanup stops
// the processes in the order that lets each exit (controller manager,
// apiserver, kine) and fails the test if one of them died before; when the
// test failed it logs the tail of each process's log. On a start-up failure
// the test fails with those tails.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bins := findBinaries(t)
	dir := t.TempDir() // removed after the cleanup registered below has run
	c := &Cluster{dir: dir}
	t.Cleanup(func() { c.stop(t) })

	p, err := newPKI(dir)
	if err != nil {
		t.Fatalf("k8stest: creating PKI: %v", err)
	}
	c.pki, c.adminToken, c.CAData = p, p.adminToken, p.caPEM

	ctx, cancel := context.WithTimeout(context.Background(), 3*startTimeout)
	defer cancel()
	if err := c.startKine(ctx, bins.kine); err != nil {
		t.Fatalf("k8stest: kine: %v\n%s", err, c.logTails())
	}
	if err := c.startAPIServer(ctx, bins.apiserver); err != nil {
		t.Fatalf("k8stest: kube-apiserver: %v\n%s", err, c.logTails())
	}
	if err := c.startControllerManager(ctx, bins.cm); err != nil {
		t.Fatalf("k8stest: kube-controller-manager: %v\n%s", err, c.logTails())
	}
	return c
}

// TokenConfig returns a rest.Config for the cluster's server that
// authenticates with the bearer token (for example a ServiceAccount token
// from ServiceAccountToken) and verifies the server with CAData. Like Admin
// it has no client-side rate limit: the server serves this test only.
func (c *Cluster) TokenConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            c.Server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), c.CAData...)},
		QPS:             -1,
		UserAgent:       "tusk-k8stest",
	}
}

// ServiceAccountToken creates the namespace and the ServiceAccount
// namespace/name when they do not exist, and returns a token for it from
// the TokenRequest API, valid for an hour for the apiserver's audience.
// Failures fail the test.
func (c *Cluster) ServiceAccountToken(t testing.TB, namespace, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := c.admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("k8stest: creating namespace %s: %v", namespace, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if _, err := c.admin.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("k8stest: creating ServiceAccount %s/%s: %v", namespace, name, err)
	}
	expiry := int64(3600)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}
	got, err := c.admin.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, tr, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("k8stest: TokenRequest for %s/%s: %v", namespace, name, err)
	}
	if got.Status.Token == "" {
		t.Fatalf("k8stest: TokenRequest for %s/%s returned no token", namespace, name)
	}
	return got.Status.Token
}

// env is the whole environment of the control-plane processes: nothing of
// the test's (no KINE_*, AWS_* or KUBECONFIG reaches them), HOME in the
// cluster's directory.
func (c *Cluster) env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.dir,
		"TMPDIR=" + c.dir,
	}
}

// freePort returns a loopback port nothing listens on right now. Another
// process may take it before ours binds it: callers retry on "address
// already in use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startOnFreePort starts a process on a fresh free port (start returns it)
// and waits for ready; when the process exits while starting because its
// port was taken meanwhile, it tries again with another port.
func startOnFreePort(ctx context.Context, start func(port int) (*proc, error), ready func(ctx context.Context, p *proc, port int) error) (*proc, int, error) {
	var (
		last    *proc
		lastErr error
	)
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return last, 0, err
		}
		p, err := start(port)
		if err != nil {
			return last, 0, err
		}
		last = p
		if lastErr = ready(ctx, p, port); lastErr == nil {
			return p, port, nil
		}
		p.stop(5 * time.Second)
		if !strings.Contains(p.tail(50), "address already in use") {
			break
		}
	}
	return last, 0, lastErr
}

// pollUntil calls check every 100 ms until it returns nil, p exits or ctx
// ends. The processes it waits for announce readiness no other way than by
// answering.
func pollUntil(ctx context.Context, p *proc, limit time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while starting (%v)", p.name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready within %v: %v", limit, err)
		case <-tick.C:
		}
	}
}

func (c *Cluster) startKine(ctx context.Context, bin string) error {
	endpoint := "sqlite://" + filepath.Join(c.dir, "state.db") +
		"?_journal_mode=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate"
	p, port, err := startOnFreePort(ctx,
		func(port int) (*proc, error) {
			return startProc("kine", bin, []string{
				"--listen-address", "127.0.0.1:" + strconv.Itoa(port),
				"--endpoint", endpoint,
				"--metrics-bind-address", "0", // no :8080 shared between clusters
			}, c.env(), filepath.Join(c.dir, "kine.log"))
		},
		func(ctx context.Context, p *proc, port int) error {
			return pollUntil(ctx, p, startTimeout, func(ctx context.Context) error {
				var d net.Dialer
				conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
				if err == nil {
					conn.Close()
				}
				return err
			})
		})
	c.kine = p
	if err != nil {
		return err
	}
	c.kinePort = port
	return nil
}

func (c *Cluster) startAPIServer(ctx context.Context, bin string) error {
	certDir := filepath.Join(c.dir, "apiserver-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CAData) {
		return errors.New("CA certificate does not parse")
	}
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	defer hc.CloseIdleConnections()
	p, port, err := startOnFreePort(ctx,
		func(port int) (*proc, error) {
			return startProc("kube-apiserver", bin, []string{
				"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(c.kinePort),
				"--bind-address=127.0.0.1",
				"--advertise-address=127.0.0.1",
				"--secure-port=" + strconv.Itoa(port),
				"--tls-cert-file=" + c.pki.certFile,
				"--tls-private-key-file=" + c.pki.keyFile,
				"--client-ca-file=" + c.pki.caFile,
				"--token-auth-file=" + c.pki.tokenFile,
				"--authorization-mode=RBAC",
				"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
				"--service-account-key-file=" + c.pki.saPubFile,
				"--service-account-signing-key-file=" + c.pki.saKeyFile,
				"--service-cluster-ip-range=10.0.0.0/24",
				// 127.0.0.1 as the advertised address makes the default
				// reconciler refuse to start.
				"--endpoint-reconciler-type=none",
				"--cert-dir=" + certDir,
			}, c.env(), filepath.Join(c.dir, "kube-apiserver.log"))
		},
		func(ctx context.Context, p *proc, port int) error {
			url := "https://127.0.0.1:" + strconv.Itoa(port) + "/readyz"
			return pollUntil(ctx, p, startTimeout, func(ctx context.Context) error {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					return err
				}
				req.Header.Set("Authorization", "Bearer "+c.adminToken)
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("GET /readyz: %s", resp.Status)
				}
				return nil
			})
		})
	c.apiserver = p
	if err != nil {
		return err
	}
	c.Server = "https://127.0.0.1:" + strconv.Itoa(port)
	c.Admin = c.TokenConfig(c.adminToken)
	if c.admin, err = kubernetes.NewForConfig(c.Admin); err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.dir, "admin.kubeconfig")
	return c.writeKubeconfig()
}

// writeKubeconfig writes the admin kubeconfig (server, CA, admin token).
func (c *Cluster) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["tusk-test"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.adminToken}
	cfg.Contexts["admin@tusk-test"] = &clientcmdapi.Context{Cluster: "tusk-test", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "admin@tusk-test"
	return clientcmd.WriteToFile(*cfg, c.Kubeconfig)
}

func (c *Cluster) startControllerManager(ctx context.Context, bin string) error {
	p, err := startProc("kube-controller-manager", bin, []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=0", // no serving port to collide on
		"--leader-elect=false",
		"--service-account-private-key-file=" + c.pki.saKeyFile,
		"--root-ca-file=" + c.pki.caFile,
		"--use-service-account-credentials=false",
		"--controllers=*",
	}, c.env(), filepath.Join(c.dir, "kube-controller-manager.log"))
	if err != nil {
		return err
	}
	c.cm = p

	// Working means the ServiceAccount controller has made default/default:
	// watch for it, and stop watching if the process exits.
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	sel := fields.OneTermEqualSelector("metadata.name", "default").String()
	sas := c.admin.CoreV1().ServiceAccounts(metav1.NamespaceDefault)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return sas.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return sas.Watch(ctx, o)
		},
	}
	_, err = watchtools.UntilWithSync(ctx, lw, &corev1.ServiceAccount{}, nil, func(ev watch.Event) (bool, error) {
		return ev.Type == watch.Added || ev.Type == watch.Modified, nil
	})
	if err != nil {
		if p.exited() {
			return fmt.Errorf("exited while starting (%v)", p.err)
		}
		return fmt.Errorf("no default ServiceAccount within %v: %w", startTimeout, err)
	}
	return nil
}

// stop stops the processes that were started, controller manager first and
// kine last: the apiserver hangs on SIGTERM when kine has gone first. It
// fails the test for any process that exited on its own.
func (c *Cluster) stop(t testing.TB) {
	if t.Failed() {
		t.Logf("k8stest: logs of the control plane in %s:\n%s", c.dir, c.logTails())
	}
	for _, s := range []struct {
		p     *proc
		grace time.Duration
	}{{c.cm, 10 * time.Second}, {c.apiserver, 30 * time.Second}, {c.kine, 10 * time.Second}} {
		if s.p == nil {
			continue
		}
		if s.p.exited() && !s.p.stopping.Load() {
			t.Errorf("k8stest: %s exited during the test (%v); log tail:\n%s", s.p.name, s.p.err, s.p.tail(40))
		}
		s.p.stop(s.grace)
	}
}

// logTails returns the last lines of each process's log.
func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, p := range []*proc{c.kine, c.apiserver, c.cm} {
		if p == nil {
			continue
		}
		fmt.Fprintf(&b, "--- %s (%s):\n%s\n", p.name, p.log, p.tail(30))
	}
	return b.String()
}
