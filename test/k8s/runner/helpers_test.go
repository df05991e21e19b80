package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/pipelines"
	k8srunner "github.com/tusk-data/tusk/pipelines/kubernetes"
	"github.com/tusk-data/tusk/test/k8s/k8stest"
)

// tuskBin is the tusk binary (built once by TestMain, or $TUSK_BIN): the
// /tusk of the Tusk image the init container copies, and the CLI.
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
		dir, err := os.MkdirTemp("", "tusk-k8s-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		tuskBin = filepath.Join(dir, "tusk")
		// Static, as make image builds it.
		cmd := exec.Command("go", "build", "-trimpath", "-o", tuskBin, "github.com/tusk-data/tusk/cmd/tusk")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build cmd/tusk: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// Names of deploy/kubernetes and of the runner's settings in these tests.
const (
	namespace     = "tusk"        // deploy/kubernetes/namespace.yaml
	runnerAccount = "tusk"        // the gateway's ServiceAccount (rbac.yaml)
	workerAccount = "tusk-worker" // the worker pods' (rbac.yaml)
	tuskImage     = "registry.example/tusk:test"
	workImage     = "docker.io/library/busybox:1.37"
	adminKey      = "TKK8STESTADMIN000001"
	adminSecret   = "k8s-test-secret-key-for-the-admin-0001"
)

// images are the files of the images the tests' pods use, as far as they
// run them: path in the image -> file on this host. A command that is not
// an absolute path runs from this host's PATH, standing for the image's
// (the pipeline's image provides sh, tr, ...).
func images() map[string]map[string]string {
	return map[string]map[string]string{tuskImage: {"/tusk": tuskBin}}
}

// env is a control plane with deploy/kubernetes applied and a gateway whose
// kubernetes runner authenticates as deploy/'s ServiceAccount.
type env struct {
	t      *testing.T
	c      *k8stest.Cluster
	admin  kubernetes.Interface // system:masters: plays the kubelet
	runner kubernetes.Interface // the runner's ServiceAccount token
	gw     *gateway.Server
	url    string // the gateway, as pods reach it
	s3     *s3.Client
	cfg    gateway.Config
	stop   func() // stops the gateway
}

// setup starts the control plane, server-side applies deploy/kubernetes,
// and starts a gateway whose kubernetes runner uses the token of
// deploy/'s ServiceAccount (so deploy/'s Role is all it may do).
func setup(t *testing.T) *env {
	t.Helper()
	c := k8stest.Start(t)
	e := &env{t: t, c: c, admin: kubernetes.NewForConfigOrDie(c.Admin)}
	applyManifests(t, c.Admin)
	token := c.ServiceAccountToken(t, namespace, runnerAccount)
	rc := c.TokenConfig(token)
	e.runner = kubernetes.NewForConfigOrDie(rc)
	e.waitAllowed(token)

	e.cfg = gateway.Config{DataDir: t.TempDir(), AccessKey: adminKey, SecretKey: adminSecret, MinFree: 1 << 20, GCInterval: -1,
		// A re-attached Job waits one worker lease before its datums are
		// claimed again: 10s (not the 30s default) keeps the restart tests
		// short and still outlasts a gateway restart here.
		Pipelines: gateway.PipelineConfig{WorkerLease: 10 * time.Second, Kubernetes: &gateway.KubernetesConfig{
			REST: rc, Config: k8srunner.Config{Namespace: namespace, Image: tuskImage,
				ServiceAccount: workerAccount, ImagePullSecrets: []string{"regcred"},
				Labels:       map[string]string{"team": "data"},
				Requests:     pipelines.Resources{CPU: "100m", Memory: "64Mi"},
				Limits:       pipelines.Resources{Memory: "512Mi"},
				NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
				// Finished Jobs go at once: the tests see the TTL controller
				// delete them, and the garbage collector their Secrets.
				TTL: time.Second,
			}}}}
	lw := &logWriter{t: t}
	t.Cleanup(lw.close) // registered first: runs after the gateway stopped
	e.cfg.Log = zerolog.New(lw).With().Timestamp().Logger()
	e.startGateway("127.0.0.1:0")
	return e
}

// logWriter hands the gateway's log lines to t.Log (shown with -v or when
// the test fails) until close.
type logWriter struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Logf("gateway: %s", bytes.TrimRight(p, "\n"))
	}
	return len(p), nil
}

func (w *logWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

// startGateway starts the gateway on addr (its URL, which pods use, is
// then fixed: a restart listens on the same address).
func (e *env) startGateway(addr string) {
	e.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	e.cfg.Addr = ln.Addr().String()
	e.cfg.Pipelines.Kubernetes.Gateway = e.url
	srv, err := gateway.New(context.Background(), e.cfg)
	if err != nil {
		ln.Close()
		e.t.Fatalf("gateway: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stopped := false
	e.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			srv.Close()
		}
	}
	e.t.Cleanup(e.stop)
	e.gw = srv
	e.s3 = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(adminKey, adminSecret, "")})
}

// restart stops the gateway (its Jobs keep running) and starts another on
// the same data and address.
func (e *env) restart() {
	e.t.Helper()
	e.stop()
	e.startGateway(e.cfg.Addr)
}

// waitAllowed waits until RBAC lets token watch Jobs in the namespace: the
// apiserver's authorizer learns of a new RoleBinding through its own
// informer and announces nothing, so this asks it (SelfSubjectAccessReview)
// until it allows.
func (e *env) waitAllowed(token string) {
	e.t.Helper()
	cl := kubernetes.NewForConfigOrDie(e.c.TokenConfig(token))
	ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Group: "batch", Resource: "jobs", Verb: "watch"}}}
	err := wait.PollUntilContextTimeout(ctxT(e.t), 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		r, err := cl.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, ssar, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return r.Status.Allowed, nil
	})
	if err != nil {
		e.t.Fatalf("deploy/'s RoleBinding does not take effect: %v", err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) mkRepo(name string) {
	e.t.Helper()
	if _, err := e.s3.CreateBucket(ctxT(e.t), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		e.t.Fatalf("create bucket %s: %v", name, err)
	}
}

// put writes key and returns its version id (the commit).
func (e *env) put(bucket, key, body string) string {
	e.t.Helper()
	out, err := e.s3.PutObject(ctxT(e.t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		e.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.VersionId)
}

// tusk runs the CLI as the admin and fails the test unless it exits 0.
func (e *env) tusk(args ...string) string {
	e.t.Helper()
	return runTusk(e.t, append([]string{"--endpoint", e.url}, args...)...)
}

// runTusk runs the tusk binary with the admin's keys (and none of this
// process's TUSK_* and AWS_* variables) and fails the test unless it
// exits 0.
func runTusk(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(tuskBin, args...)
	cmd.Env = append(pipelines.WorkerEnv(os.Environ()), "TUSK_ACCESS_KEY="+adminKey, "TUSK_SECRET_KEY="+adminSecret,
		"XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tusk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// createPipeline creates a pipeline from a YAML spec through the CLI.
func (e *env) createPipeline(spec string) {
	e.t.Helper()
	p := filepath.Join(e.t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.tusk("pipeline", "create", "-f", p)
}

// listWatch lists and watches objects of one kind in the namespace,
// narrowed by label and field selectors.
func listWatch[L kruntime.Object](list func(context.Context, metav1.ListOptions) (L, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error), lsel, fsel string) *cache.ListWatch {
	narrow := func(o *metav1.ListOptions) {
		o.LabelSelector, o.FieldSelector = lsel, fsel
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
			narrow(&o)
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			narrow(&o)
			return watchFn(ctx, o)
		},
	}
}

func (e *env) jobsLW(lsel, fsel string) *cache.ListWatch {
	j := e.admin.BatchV1().Jobs(namespace)
	return listWatch(j.List, j.Watch, lsel, fsel)
}

func (e *env) podsLW(lsel string) *cache.ListWatch {
	p := e.admin.CoreV1().Pods(namespace)
	return listWatch(p.List, p.Watch, lsel, "")
}

// nextJob waits (watch) for a Job of pipeline pipe not in seen, adds it
// to seen and returns it.
func (e *env) nextJob(pipe string, seen map[string]bool) *batchv1.Job {
	e.t.Helper()
	sel := labels.Set{"tusk.pipeline": pipe}.String()
	ev, err := watchtools.UntilWithSync(ctxT(e.t), e.jobsLW(sel, ""), &batchv1.Job{}, nil, func(ev watch.Event) (bool, error) {
		j, ok := ev.Object.(*batchv1.Job)
		return ok && ev.Type == watch.Added && !seen[j.Name], nil
	})
	if err != nil {
		e.t.Fatalf("waiting for a new Job of pipeline %s: %v", pipe, err)
	}
	j := ev.Object.(*batchv1.Job)
	seen[j.Name] = true
	return j
}

// podOf waits (watch) until the Job controller has made job's Pod.
func (e *env) podOf(job *batchv1.Job) *corev1.Pod {
	e.t.Helper()
	sel := labels.Set{batchv1.JobNameLabel: job.Name}.String()
	ev, err := watchtools.UntilWithSync(ctxT(e.t), e.podsLW(sel), &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		return ev.Type == watch.Added, nil
	})
	if err != nil {
		e.t.Fatalf("waiting for the Pod of Job %s: %v", job.Name, err)
	}
	return ev.Object.(*corev1.Pod)
}

// waitJobState waits (watch) until Job name satisfies cond; gone is what
// cond gets when the Job does not exist (any more).
func (e *env) waitJobState(name, what string, cond func(j *batchv1.Job) bool) {
	e.t.Helper()
	fsel := fields.OneTermEqualSelector("metadata.name", name).String()
	pre := func(store cache.Store) (bool, error) {
		_, exists, err := store.GetByKey(namespace + "/" + name)
		return err == nil && !exists && cond(nil), err
	}
	_, err := watchtools.UntilWithSync(ctxT(e.t), e.jobsLW("", fsel), &batchv1.Job{}, pre, func(ev watch.Event) (bool, error) {
		j, ok := ev.Object.(*batchv1.Job)
		if !ok {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return cond(nil), nil
		}
		return cond(j), nil
	})
	if err != nil {
		e.t.Fatalf("waiting until Job %s %s: %v", name, what, err)
	}
}

// waitPodsGone waits (watch) until no pod has labels sel.
func (e *env) waitPodsGone(sel string) {
	e.t.Helper()
	e.waitGone(e.podsLW(sel), &corev1.Pod{}, "pods "+sel)
}

// waitSecretGone waits (watch) until Secret name does not exist.
func (e *env) waitSecretGone(name string) {
	e.t.Helper()
	s := e.admin.CoreV1().Secrets(namespace)
	e.waitGone(listWatch(s.List, s.Watch, "", fields.OneTermEqualSelector("metadata.name", name).String()), &corev1.Secret{}, "Secret "+name)
}

// waitGone waits (watch) until lw lists nothing.
func (e *env) waitGone(lw *cache.ListWatch, obj kruntime.Object, what string) {
	e.t.Helper()
	var store cache.Store
	empty := func() (bool, error) { return len(store.ListKeys()) == 0, nil }
	_, err := watchtools.UntilWithSync(ctxT(e.t), lw, obj, func(s cache.Store) (bool, error) {
		store = s
		return empty()
	}, func(watch.Event) (bool, error) { return empty() })
	if err != nil {
		e.t.Fatalf("waiting until %s are gone: %v", what, err)
	}
}

// jobCondition reports whether j has condition typ true (false for a
// missing Job).
func jobCondition(j *batchv1.Job, typ batchv1.JobConditionType) bool {
	if j == nil {
		return false
	}
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// ---- playing the kubelet ----

// ranPod is what executing a Pod gave.
type ranPod struct {
	init, main int32 // exit codes (main is -1 when an init container failed)
	log        string
	vols       map[string]string // volume name -> the directory standing for it
}

// execPod runs pod as a kubelet would, on this host: each emptyDir volume
// is a fresh directory; the init containers run in order, then the main
// container; each container's command and args run with exactly its env
// (values, secretKeyRefs read through the API with the runner's token,
// fieldRefs of the pod), paths under its volume mounts mapped to the
// volumes' directories and the image's own files taken from images().
// It then reports the containers' real exit codes through pods/status
// (as the kubelet: the admin) and returns them.
func (e *env) execPod(pod *corev1.Pod) ranPod {
	e.t.Helper()
	vols := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil {
			e.t.Fatalf("pod %s: volume %s is not an emptyDir (this kubelet only makes those)", pod.Name, v.Name)
		}
		vols[v.Name] = e.t.TempDir()
	}
	if len(pod.Spec.Containers) != 1 {
		e.t.Fatalf("pod %s has %d containers, want the worker alone", pod.Name, len(pod.Spec.Containers))
	}
	started := metav1.Now()
	res := ranPod{main: -1, vols: vols}
	var logs strings.Builder
	var initStatus []corev1.ContainerStatus
	failed := false
	for _, c := range pod.Spec.InitContainers {
		code, out := e.runContainer(pod, &c, vols)
		logs.WriteString(out)
		res.init = code
		initStatus = append(initStatus, terminated(&c, code, started))
		if code != 0 {
			failed = true
			break
		}
	}
	main := &pod.Spec.Containers[0]
	var mainStatus corev1.ContainerStatus
	if failed {
		mainStatus = corev1.ContainerStatus{Name: main.Name, Image: main.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}
	} else {
		code, out := e.runContainer(pod, main, vols)
		logs.WriteString(out)
		res.main = code
		mainStatus = terminated(main, code, started)
		failed = code != 0
	}
	res.log = logs.String()
	phase := corev1.PodSucceeded
	if failed {
		phase = corev1.PodFailed
	}
	e.kubelet(pod, corev1.PodStatus{Phase: phase, StartTime: &started,
		InitContainerStatuses: initStatus, ContainerStatuses: []corev1.ContainerStatus{mainStatus}})
	return res
}

// terminated is a container's status after it exited with code.
func terminated(c *corev1.Container, code int32, started metav1.Time) corev1.ContainerStatus {
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	return corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image + "@sha256:" + strings.Repeat("0", 64),
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: metav1.Now()}}}
}

// kubelet sets pod's status through the pods/status subresource.
func (e *env) kubelet(pod *corev1.Pod, st corev1.PodStatus) {
	e.t.Helper()
	patch, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.admin.CoreV1().Pods(namespace).Patch(ctxT(e.t), pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		e.t.Fatalf("patching pods/status of %s: %v", pod.Name, err)
	}
}

// runContainer runs c of pod and returns its exit code (128+signal when a
// signal ended it, as the kubelet reports) and its output.
func (e *env) runContainer(pod *corev1.Pod, c *corev1.Container, vols map[string]string) (int32, string) {
	e.t.Helper()
	if len(c.Command) == 0 {
		e.t.Fatalf("container %s has no command (the image's entrypoint is not known here)", c.Name)
	}
	if c.WorkingDir != "" || len(c.EnvFrom) > 0 {
		e.t.Fatalf("container %s: workingDir and envFrom are not played here", c.Name)
	}
	// inMount maps a path under one of c's volume mounts to the volume's
	// directory.
	inMount := func(p string) (string, bool) {
		for _, m := range c.VolumeMounts {
			if rel, ok := strings.CutPrefix(p, m.MountPath); ok && (rel == "" || rel[0] == '/') {
				if m.SubPath != "" {
					e.t.Fatalf("container %s: subPath is not played here", c.Name)
				}
				return filepath.Join(vols[m.Name], rel), true
			}
		}
		return "", false
	}
	argv := append(append([]string(nil), c.Command...), c.Args...)
	for i, a := range argv {
		if strings.Contains(a, "$(") {
			e.t.Fatalf("container %s: $(VAR) expansion in %q is not played here", c.Name, a)
		}
		if p, ok := inMount(a); ok {
			argv[i] = p
		}
	}
	if !filepath.IsAbs(c.Command[0]) {
		p, err := exec.LookPath(c.Command[0])
		if err != nil {
			e.t.Fatalf("container %s: %v", c.Name, err)
		}
		argv[0] = p
	} else if _, ok := inMount(c.Command[0]); !ok {
		p, ok := images()[c.Image][c.Command[0]]
		if !ok {
			e.t.Fatalf("container %s: %s is not a file of image %s known here", c.Name, c.Command[0], c.Image)
		}
		argv[0] = p
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.t.TempDir()} // the image's
	for _, v := range c.Env {
		env = append(env, v.Name+"="+e.envValue(pod, c, v))
	}
	ctx, cancel := context.WithTimeout(ctxT(e.t), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, e.t.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	code := int32(0)
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			code = 128 + int32(ws.Signal())
		} else {
			code = int32(ws.ExitStatus())
		}
	default:
		e.t.Fatalf("container %s: %v", c.Name, err)
	}
	e.t.Logf("pod %s container %s exited %d:\n%s", pod.Name, c.Name, code, out.String())
	return code, out.String()
}

// envValue resolves v as the kubelet does: its value, a key of a Secret
// (read through the API with the runner's token) or a field of the pod.
func (e *env) envValue(pod *corev1.Pod, c *corev1.Container, v corev1.EnvVar) string {
	e.t.Helper()
	if v.ValueFrom == nil {
		if strings.Contains(v.Value, "$(") {
			e.t.Fatalf("container %s: $(VAR) expansion in %s is not played here", c.Name, v.Name)
		}
		return v.Value
	}
	switch f := v.ValueFrom; {
	case f.SecretKeyRef != nil:
		s, err := e.runner.CoreV1().Secrets(pod.Namespace).Get(ctxT(e.t), f.SecretKeyRef.Name, metav1.GetOptions{})
		if err != nil {
			e.t.Fatalf("container %s: env %s: reading Secret %s with the runner's token: %v", c.Name, v.Name, f.SecretKeyRef.Name, err)
		}
		b, ok := s.Data[f.SecretKeyRef.Key]
		if !ok {
			e.t.Fatalf("container %s: env %s: Secret %s has no key %s", c.Name, v.Name, s.Name, f.SecretKeyRef.Key)
		}
		return string(b)
	case f.FieldRef != nil:
		switch f.FieldRef.FieldPath {
		case "metadata.name":
			return pod.Name
		case "metadata.namespace":
			return pod.Namespace
		case "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName
		}
		e.t.Fatalf("container %s: env %s: fieldRef %s is not played here", c.Name, v.Name, f.FieldRef.FieldPath)
	}
	e.t.Fatalf("container %s: env %s: %+v is not played here", c.Name, v.Name, v.ValueFrom)
	return ""
}
