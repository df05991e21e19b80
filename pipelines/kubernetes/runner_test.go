package kubernetes_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tusk-data/tusk/pipelines"
	k8srunner "github.com/tusk-data/tusk/pipelines/kubernetes"
)

const ns = "tusk"

func newRunner(t *testing.T, cl *fake.Clientset, board *pipelines.TaskBoard) *k8srunner.Runner {
	t.Helper()
	r, err := k8srunner.New(k8srunner.Config{Client: cl, Namespace: ns, Image: "tusk:test", Gateway: "http://tusk.tusk.svc:9000",
		ServiceAccount: "runner-pods", ImagePullSecrets: []string{"regcred"}, Labels: map[string]string{"team": "data"},
		Requests: pipelines.Resources{CPU: "100m", Memory: "64Mi"}, Limits: pipelines.Resources{Memory: "1Gi"},
		NodeSelector: map[string]string{"pool": "batch"}, Board: board})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func task(datums ...string) *pipelines.Task {
	t := &pipelines.Task{Job: "job1", Pipeline: "edges", Version: 2, Endpoint: "http://127.0.0.1:9000", AccessKey: "AK", SecretKey: "SK",
		OutputRepo: "edges", Cmd: []string{"python3", "/edges.py"}, Env: map[string]string{"MODE": "fast"}, Image: "python:3.12",
		Timeout: time.Minute, Requests: &pipelines.Resources{CPU: "2"}, NodeSelector: map[string]string{"gpu": "yes"},
		Tolerations: []pipelines.Toleration{{Key: "gpu", Operator: "Exists", Effect: "NoSchedule"}}}
	for _, d := range datums {
		t.Datums = append(t.Datums, pipelines.DatumTask{ID: d, Attempt: 1, Prefix: d + "/r-1/"})
	}
	return t
}

func TestJobSpec(t *testing.T) {
	r := newRunner(t, fake.NewClientset(), pipelines.NewTaskBoard())
	j, err := r.Job("tusk-edges-1", task("a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	s := j.Spec
	if *s.BackoffLimit != 0 || *s.Parallelism != 1 || *s.TTLSecondsAfterFinished != 600 || s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds < 120 {
		t.Errorf("job spec: backoff %d parallelism %d ttl %d deadline %v", *s.BackoffLimit, *s.Parallelism, *s.TTLSecondsAfterFinished, s.ActiveDeadlineSeconds)
	}
	for _, l := range []map[string]string{j.Labels, s.Template.Labels} {
		for k, v := range map[string]string{"tusk.pipeline": "edges", "tusk.job": "job1", "tusk.task": "tusk-edges-1", "tusk.version": "2",
			"app.kubernetes.io/managed-by": "tusk", "team": "data"} {
			if l[k] != v {
				t.Errorf("label %s = %q, want %q", k, l[k], v)
			}
		}
	}
	p := s.Template.Spec
	if p.RestartPolicy != corev1.RestartPolicyNever || p.ServiceAccountName != "runner-pods" || *p.AutomountServiceAccountToken ||
		len(p.ImagePullSecrets) != 1 || p.NodeSelector["pool"] != "batch" || p.NodeSelector["gpu"] != "yes" || len(p.Tolerations) != 1 {
		t.Errorf("pod spec: %+v", p)
	}
	if len(p.InitContainers) != 1 || p.InitContainers[0].Image != "tusk:test" ||
		strings.Join(p.InitContainers[0].Command, " ") != "/tusk worker --install /tusk-bin/tusk" {
		t.Errorf("init container: %+v", p.InitContainers)
	}
	c := p.Containers[0]
	if c.Image != "python:3.12" || strings.Join(c.Command, " ") != "/tusk-bin/tusk worker" ||
		strings.Join(c.Args, " ") != "--gateway http://tusk.tusk.svc:9000 --task tusk-edges-1 --pfs /pfs" ||
		len(c.VolumeMounts) != 2 || c.VolumeMounts[1].MountPath != "/pfs" || len(p.Volumes) != 2 || p.Volumes[1].EmptyDir == nil {
		t.Errorf("container: %s %q %q", c.Image, c.Command, c.Args)
	}
	if c.Resources.Requests.Cpu().String() != "2" || c.Resources.Requests.Memory().String() != "64Mi" || c.Resources.Limits.Memory().String() != "1Gi" {
		t.Errorf("resources: %+v", c.Resources)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if e.Value == "SK" || e.Value == "AK" {
			t.Errorf("env %s carries a key in plain text", e.Name)
		}
	}
	for name, key := range map[string]string{"TUSK_ACCESS_KEY": "access_key", "TUSK_SECRET_KEY": "secret_key", "AWS_ACCESS_KEY_ID": "access_key", "AWS_SECRET_ACCESS_KEY": "secret_key"} {
		e := env[name]
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "tusk-edges-1" || e.ValueFrom.SecretKeyRef.Key != key {
			t.Errorf("env %s: %+v, want secretKeyRef tusk-edges-1/%s", name, e, key)
		}
	}
	if env["MODE"].Value != "fast" || env["AWS_ENDPOINT_URL"].Value != "http://tusk.tusk.svc:9000" || env["TUSK_WORKER_NAME"].ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("env: %+v", c.Env)
	}
	if _, err := r.Job("x", &pipelines.Task{Pipeline: "p"}); err == nil || !strings.Contains(err.Error(), "transform.image") {
		t.Errorf("a task without image: %v", err)
	}
}

// results collects a Run's reports.
type results struct {
	mu  sync.Mutex
	got map[string]pipelines.Result
	ch  chan pipelines.Result
}

func newResults() *results {
	return &results{got: map[string]pipelines.Result{}, ch: make(chan pipelines.Result, 16)}
}

func (r *results) report(res pipelines.Result) {
	r.mu.Lock()
	r.got[res.Datum] = res
	r.mu.Unlock()
	r.ch <- res
}

// nextJob waits for a Job to be added (or deleted, with deleted true).
func nextJob(t *testing.T, w watch.Interface, typ watch.EventType) *batchv1.Job {
	t.Helper()
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == typ {
				return ev.Object.(*batchv1.Job)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no Job %s within 20s", typ)
		}
	}
}

// ownedSecret waits (watching) for Secret name to carry one owner reference.
func ownedSecret(t *testing.T, w watch.Interface, name string) *corev1.Secret {
	t.Helper()
	for {
		select {
		case ev := <-w.ResultChan():
			sec, ok := ev.Object.(*corev1.Secret)
			if ok && sec.Name == name && len(sec.OwnerReferences) == 1 {
				return sec
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Secret %s got no owner reference within 20s", name)
		}
	}
}

func TestPodFailureAndJobEnd(t *testing.T) {
	cl := fake.NewClientset()
	board := pipelines.NewTaskBoard()
	r := newRunner(t, cl, board)
	ctx := context.Background()
	w, err := cl.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	res := newResults()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, task("a", "b", "c"), res.report) }()
	// The Secret exists before its Job and is then patched to be owned by
	// it: watch it until the owner reference is there.
	sw, err := cl.CoreV1().Secrets(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Stop()
	j := nextJob(t, w, watch.Added)
	sec := ownedSecret(t, sw, j.Name)
	if string(sec.Data["secret_key"]) != "SK" || sec.OwnerReferences[0].Name != j.Name {
		t.Fatalf("secret %+v", sec)
	}
	// A pod claims a and reports it; claims b; then fails.
	tok, d, err := board.Claim(j.Name, "AK", "pod-1")
	if err != nil || d.ID != "a" {
		t.Fatal(d, err)
	}
	if err := board.Report(j.Name, "AK", tok, pipelines.Result{Datum: "a", Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := board.Claim(j.Name, "other", "pod-1"); err == nil {
		t.Error("a claim with another key was accepted")
	}
	if _, d, _ = board.Claim(j.Name, "AK", "pod-1"); d == nil || d.ID != "b" {
		t.Fatal(d)
	}
	if got := <-res.ch; got.Datum != "a" || !got.OK() {
		t.Fatalf("%+v", got)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod-1", Namespace: ns, Labels: j.Spec.Template.Labels},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "worker",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}}}}
	if _, err := cl.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := <-res.ch
	if got.Datum != "b" || got.OK() || !strings.Contains(got.Error, "pod pod-1 failed: container worker exited with code 137 (OOMKilled)") {
		t.Fatalf("b: %+v", got)
	}
	j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}}
	if _, err := cl.BatchV1().Jobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// c was never claimed: it fails with the Job's reason and its failed
	// pod's (a pod evicted before it claims fails the datums so).
	if got := <-res.ch; got.Datum != "c" || !strings.Contains(got.Error, "BackoffLimitExceeded") || !strings.Contains(got.Error, "pod pod-1 failed") {
		t.Fatalf("c: %+v", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCancelDeletesDetachKeepsRestartAdopts(t *testing.T) {
	cl := fake.NewClientset()
	ctx := context.Background()
	w, err := cl.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// Cancelled (pipeline deleted): the Job goes.
	r := newRunner(t, cl, pipelines.NewTaskBoard())
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx, task("a"), func(pipelines.Result) {}) }()
	j := nextJob(t, w, watch.Added)
	cancel()
	if gone := nextJob(t, w, watch.Deleted); gone.Name != j.Name {
		t.Fatalf("deleted %s, want %s", gone.Name, j.Name)
	}
	<-done

	// Detached (gateway stopping): the Job stays, and the next runner
	// re-attaches it to the same Tusk job's Run.
	rctx, cancel = context.WithCancel(ctx)
	go func() { done <- r.Run(rctx, task("a", "b"), func(pipelines.Result) {}) }()
	j = nextJob(t, w, watch.Added)
	r.Detach()
	cancel()
	<-done
	if _, err := cl.BatchV1().Jobs(ns).Get(ctx, j.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the Job of a detached runner was deleted: %v", err)
	}
	board := pipelines.NewTaskBoard()
	board.SetLease(100 * time.Millisecond) // the re-attached Run holds its datums for one lease
	r2 := newRunner(t, cl, board)
	res := newResults()
	go func() { done <- r2.Run(ctx, task("b"), res.report) }()
	var tok string
	var d *pipelines.DatumTask
	// The pods of the re-attached Job claim from the new Run under its name.
	for d == nil {
		var err error
		tok, d, err = board.Claim(j.Name, "AK", "pod-x")
		if err != nil {
			select {
			case <-time.After(10 * time.Millisecond): // the Run posts its task: retry as a worker does
			case err := <-done:
				t.Fatalf("Run returned %v", err)
			}
			continue
		}
		if d == nil {
			t.Fatal("the re-attached task has no datum")
		}
	}
	if err := board.Report(j.Name, "AK", tok, pipelines.Result{Datum: "b", Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l, _ := cl.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if len(l.Items) != 1 {
		t.Errorf("%d Jobs, want the re-attached one only", len(l.Items))
	}
}
