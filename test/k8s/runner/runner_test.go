package runner

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/pipelines"
	k8srunner "github.com/tusk-data/tusk/pipelines/kubernetes"
)

// TestKubernetesRunner: a pipeline with runner kubernetes makes a Job with
// the pipeline's image, the init container copying tusk in, the env with
// the keys as secretKeyRefs, and the resources, node selector and
// tolerations of server config and spec. Its Pod, executed as created,
// takes its datum from the gateway and uploads the output through it: the
// output commit has the job and the input commit as provenance. The Job
// then completes, the TTL controller deletes it and the garbage collector
// its Secret.
func TestKubernetesRunner(t *testing.T) {
	e := setup(t)
	ctx := ctxT(t)
	e.mkRepo("raw")
	va := e.put("raw", "a.txt", "apple\n")
	vb := e.put("raw", "b.txt", "banana\n")
	e.createPipeline(`name: upper
runner: kubernetes
input: {pfs: {repo: raw, glob: "/"}}
transform:
  image: ` + workImage + `
  cmd: [sh]
  stdin:
    - 'for f in "$TUSK_PFS"/raw/*; do tr a-z A-Z < "$f" > "$TUSK_PFS/out/$(basename "$f")"; done'
    - 'printf %s "$GREETING" > "$TUSK_PFS/out/greeting"'
    - 'printf %s "$TUSK_PFS" > "$TUSK_PFS/out/pfs"'
  env: {GREETING: hello}
resource_requests: {memory: 128Mi}
resource_limits: {cpu: "1"}
node_selector: {disktype: ssd}
tolerations: [{key: dedicated, operator: Equal, value: tusk, effect: NoSchedule}]
`)
	job := e.nextJob("upper", map[string]bool{})
	tuskJob := job.Labels[k8srunner.LabelJob]
	if tuskJob == "" || job.Labels["team"] != "data" || job.Labels[k8srunner.LabelManagedBy] != k8srunner.ManagedBy {
		t.Fatalf("Job %s labels %v: want tusk.job, team=data (server config), managed-by tusk", job.Name, job.Labels)
	}
	js := job.Spec
	if *js.Parallelism != 1 || *js.BackoffLimit != 0 || js.TTLSecondsAfterFinished == nil || *js.TTLSecondsAfterFinished != 1 {
		t.Errorf("Job spec parallelism %v backoffLimit %v ttl %v; want 1, 0 (Tusk retries datums), 1 s", *js.Parallelism, *js.BackoffLimit, js.TTLSecondsAfterFinished)
	}
	ps := js.Template.Spec
	if ps.ServiceAccountName != workerAccount || ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken ||
		!slices.Equal(ps.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}}) ||
		ps.NodeSelector["kubernetes.io/os"] != "linux" || ps.NodeSelector["disktype"] != "ssd" ||
		len(ps.Tolerations) != 1 || ps.Tolerations[0].Key != "dedicated" || ps.Tolerations[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("pod spec: serviceAccountName %q automount %v imagePullSecrets %v nodeSelector %v tolerations %v",
			ps.ServiceAccountName, ps.AutomountServiceAccountToken, ps.ImagePullSecrets, ps.NodeSelector, ps.Tolerations)
	}
	if len(ps.Volumes) != 2 || ps.Volumes[0].EmptyDir == nil || ps.Volumes[1].EmptyDir == nil || len(ps.InitContainers) != 1 || len(ps.Containers) != 1 {
		t.Fatalf("pod spec: volumes %+v, %d init containers, %d containers; want two emptyDirs (tusk, /pfs), one init container, one container",
			ps.Volumes, len(ps.InitContainers), len(ps.Containers))
	}
	ic, mc := ps.InitContainers[0], ps.Containers[0]
	bin := ps.Volumes[0].Name
	if ic.Image != tuskImage || len(ic.VolumeMounts) != 1 || ic.VolumeMounts[0].Name != bin || ic.VolumeMounts[0].MountPath != k8srunner.BinDir {
		t.Errorf("init container: image %q mounts %+v; want %s with the emptyDir at %s", ic.Image, ic.VolumeMounts, tuskImage, k8srunner.BinDir)
	}
	if len(mc.VolumeMounts) != 2 || mc.VolumeMounts[1].Name != ps.Volumes[1].Name || mc.VolumeMounts[1].MountPath != "/pfs" {
		t.Errorf("container mounts %+v: want the tusk binary's volume and an emptyDir at /pfs", mc.VolumeMounts)
	}
	if mc.Image != workImage || len(mc.Command) == 0 || mc.Command[0] != k8srunner.BinDir+"/tusk" ||
		!slices.Contains(mc.Args, "--task") || !slices.Contains(mc.Args, job.Name) || !slices.Contains(mc.Args, e.url) {
		t.Errorf("container: image %q command %q args %q; want the pipeline's image running %s/tusk worker --gateway %s --task %s",
			mc.Image, mc.Command, mc.Args, k8srunner.BinDir, e.url, job.Name)
	}
	env := map[string]corev1.EnvVar{}
	for _, v := range mc.Env {
		env[v.Name] = v
	}
	if env["GREETING"].Value != "hello" || env["TUSK_ENDPOINT"].Value != e.url || env["AWS_ENDPOINT_URL"].Value != e.url {
		t.Errorf("container env %+v: want GREETING (spec), TUSK_ENDPOINT and AWS_ENDPOINT_URL %s", mc.Env, e.url)
	}
	for _, name := range []string{"TUSK_ACCESS_KEY", "TUSK_SECRET_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		v := env[name]
		if v.Value != "" || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil || v.ValueFrom.SecretKeyRef.Name != job.Name {
			t.Errorf("env %s = %+v: want a secretKeyRef to Secret %s", name, v, job.Name)
		}
	}
	want := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	for _, l := range []struct {
		name      string
		got, want corev1.ResourceList
	}{{"requests", mc.Resources.Requests, want.Requests}, {"limits", mc.Resources.Limits, want.Limits}} {
		if len(l.got) != len(l.want) {
			t.Errorf("resources %s %v, want %v", l.name, l.got, l.want)
		}
		for n, q := range l.want {
			if g, ok := l.got[n]; !ok || g.Cmp(q) != 0 {
				t.Errorf("resources %s %v, want %v", l.name, l.got, l.want)
			}
		}
	}

	// The keys are in the Secret only, and the Secret goes with the Job.
	sec, err := e.runner.CoreV1().Secrets(namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Job's Secret, read with the runner's token: %v", err)
	}
	spec, _ := json.Marshal(job)
	for k, v := range sec.Data {
		if len(v) == 0 || strings.Contains(string(spec), string(v)) {
			t.Errorf("Secret key %s is empty or appears in the Job in plain text", k)
		}
	}

	pod := e.podOf(job)
	if pod.Spec.Containers[0].Image != workImage || len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].UID != job.UID {
		t.Fatalf("pod %s: image %q owners %+v", pod.Name, pod.Spec.Containers[0].Image, pod.OwnerReferences)
	}
	ran := e.execPod(pod)
	if ran.init != 0 || ran.main != 0 {
		t.Fatalf("pod %s: init exited %d, worker %d:\n%s", pod.Name, ran.init, ran.main, ran.log)
	}

	j, err := e.gw.Pipelines.WaitJob(ctx, tuskJob)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != pipelines.JobSuccess || j.Stats.Processed != 1 {
		t.Fatalf("job %s: %s (%s) %+v; want success with 1 datum processed", j.ID, j.State, j.Reason, j.Stats)
	}
	// The datum was staged in the pod's /pfs volume (here the directory
	// standing for it).
	for key, body := range map[string]string{"a.txt": "APPLE\n", "b.txt": "BANANA\n", "greeting": "hello", "pfs": ran.vols[ps.Volumes[1].Name]} {
		out, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("upper"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get upper/%s: %v", key, err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != body {
			t.Errorf("upper/%s = %q, want %q", key, b, body)
		}
		if out.Metadata["tusk-pipeline"] != "upper@1" || !strings.Contains(out.Metadata["tusk-inputs"], "raw@") {
			t.Errorf("upper/%s metadata %v: want tusk-pipeline upper@1 and the raw input", key, out.Metadata)
		}
	}
	r, err := e.gw.Meta.Resolve(ctx, "upper", "main")
	if err != nil {
		t.Fatal(err)
	}
	if m := r.Commit.Meta; m[pipelines.MetaJob] != tuskJob || m[pipelines.MetaPipeline] != "upper@1" || !strings.HasPrefix(m[pipelines.MetaInputs], "raw@") {
		t.Errorf("upper's output commit meta %v: want job %s, upper@1, raw@...", m, tuskJob)
	}
	// Provenance: upper:a.txt comes from raw's a.txt at the commit that
	// wrote b.txt (the datum is the whole tree at the input commit).
	var pi pipev1.ProvInfo
	if err := json.Unmarshal([]byte(e.tusk("prov", "upper:a.txt", "-o", "json")), &pi); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range pipelines.Flatten(pi.Root) {
		if n := f.Node; n.Repo == "raw" && n.Key == "a.txt" && (n.Commit == vb || n.Commit == va) {
			found = true
		}
	}
	if !found {
		t.Errorf("raw:a.txt is not in the provenance of upper:a.txt:\n%s", e.tusk("prov", "upper:a.txt"))
	}

	// The Secret was handed to the Job; the Job completes (the Job
	// controller saw the pod succeed), the TTL controller deletes it, and
	// the garbage collector its Secret.
	sec, err = e.admin.CoreV1().Secrets(namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != job.UID {
		t.Errorf("Secret %s owners %+v, want the Job", sec.Name, sec.OwnerReferences)
	}
	completed := false
	e.waitJobState(job.Name, "completes and is deleted", func(j *batchv1.Job) bool {
		if j == nil {
			return true
		}
		completed = completed || jobCondition(j, batchv1.JobComplete)
		return false
	})
	if !completed {
		t.Errorf("Job %s was deleted without completing", job.Name)
	}
	e.waitSecretGone(job.Name)
}

// TestFailingPodRetried: a pod that fails gets its datum retried in a new
// Job within datum_tries, and the Tusk job then fails with the last pod's
// reason. The first try's pod is evicted before it runs (the kubelet
// reports Failed/Evicted); the second's worker dies (its command kills it:
// exit 137, as the kubelet reports a SIGKILL) after claiming the datum.
func TestFailingPodRetried(t *testing.T) {
	e := setup(t)
	e.mkRepo("inbox")
	e.put("inbox", "x.txt", "x\n")
	e.createPipeline(`name: crash
runner: kubernetes
datum_tries: 2
job_retries: 0
input: {pfs: {repo: inbox, glob: "/*"}}
transform:
  image: ` + workImage + `
  cmd: [sh]
  stdin: ['kill -9 $PPID']
`)
	seen := map[string]bool{}
	evicted := e.nextJob("crash", seen)
	tuskJob := evicted.Labels[k8srunner.LabelJob]
	now := metav1.Now()
	e.kubelet(e.podOf(evicted), corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted",
		Message: "The node was low on resource: memory.", StartTime: &now})

	killed := e.nextJob("crash", seen)
	if killed.Labels[k8srunner.LabelJob] != tuskJob {
		t.Fatalf("try 2 runs in Job %s of Tusk job %s, want %s", killed.Name, killed.Labels[k8srunner.LabelJob], tuskJob)
	}
	ran := e.execPod(e.podOf(killed))
	if ran.init != 0 || ran.main != 137 {
		t.Fatalf("try 2: init exited %d, worker %d; want 0 and 137 (killed)\n%s", ran.init, ran.main, ran.log)
	}
	j, err := e.gw.Pipelines.WaitJob(ctxT(t), tuskJob)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != pipelines.JobFailure || len(j.FailedDatums) != 1 {
		t.Fatalf("job %s: %s (%s) failed datums %+v; want failure with one failed datum", j.ID, j.State, j.Reason, j.FailedDatums)
	}
	fd := j.FailedDatums[0]
	if fd.Attempts != 2 || !strings.Contains(fd.Error, "container worker exited with code 137") || !strings.Contains(fd.Error, killed.Name) {
		t.Fatalf("failed datum %+v: want 2 attempts and the reason of the pod of Job %s (exited with code 137)", fd, killed.Name)
	}
	if names := e.jobNames("crash"); len(names) > 2 {
		t.Fatalf("Jobs of crash: %v, want at most the 2 tries", names)
	}
	for _, job := range []*batchv1.Job{evicted, killed} {
		e.waitJobState(job.Name, "fails", func(j *batchv1.Job) bool { return j == nil || jobCondition(j, batchv1.JobFailed) })
	}
}

// TestUpdateAndDeleteDeleteJobs: updating a pipeline deletes the running
// Job of its old version (the old Tusk job ends killed) and a Job of the
// new version runs; deleting the pipeline deletes that one. The garbage
// collector then removes each Job's pods and Secret.
func TestUpdateAndDeleteDeleteJobs(t *testing.T) {
	e := setup(t)
	e.mkRepo("inbox")
	e.put("inbox", "x.txt", "x\n")
	spec := `name: doomed
runner: kubernetes
input: {pfs: {repo: inbox, glob: "/*"}}
transform:
  image: ` + workImage + `
  cmd: [sh]
  stdin: ['cp -r "$TUSK_PFS/inbox/." "$TUSK_PFS/out/"']
`
	e.createPipeline(spec)
	seen := map[string]bool{}
	v1 := e.nextJob("doomed", seen)
	e.podOf(v1) // left Pending: no kubelet runs it

	p := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(spec+"  env: {V: \"2\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.tusk("pipeline", "update", "-f", p)
	e.waitJobState(v1.Name, "is deleted (its pipeline was updated)", func(j *batchv1.Job) bool { return j == nil })
	e.waitPodsGone(labels.Set{batchv1.JobNameLabel: v1.Name}.String())
	e.waitSecretGone(v1.Name)
	old, err := e.gw.Pipelines.WaitJob(ctxT(t), v1.Labels[k8srunner.LabelJob])
	if err != nil {
		t.Fatal(err)
	}
	if old.State != pipelines.JobKilled {
		t.Fatalf("Tusk job of version 1: %s (%s), want killed", old.State, old.Reason)
	}
	v2 := e.nextJob("doomed", seen)
	if v2.Labels[k8srunner.LabelVersion] != "2" {
		t.Fatalf("Job %s after the update has labels %v, want tusk.version 2", v2.Name, v2.Labels)
	}
	e.podOf(v2)

	e.tusk("pipeline", "delete", "doomed")
	e.waitJobState(v2.Name, "is deleted (its pipeline was deleted)", func(j *batchv1.Job) bool { return j == nil })
	e.waitPodsGone(labels.Set{batchv1.JobNameLabel: v2.Name}.String())
	e.waitSecretGone(v2.Name)
}

// jobNames lists the Jobs of pipeline pipe.
func (e *env) jobNames(pipe string) []string {
	e.t.Helper()
	l, err := e.admin.BatchV1().Jobs(namespace).List(ctxT(e.t), metav1.ListOptions{LabelSelector: labels.Set{k8srunner.LabelPipeline: pipe}.String()})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, j := range l.Items {
		out = append(out, j.Name)
	}
	return out
}

// TestRestartReattaches: a gateway that stops leaves its running Jobs; the
// next one, on the same data and URL, resumes the Tusk job and re-attaches
// to the Job instead of making another. The Job's Pod, executed after the
// restart, takes its datum from the new gateway, and the job succeeds.
func TestRestartReattaches(t *testing.T) {
	e := setup(t)
	e.mkRepo("inbox")
	e.put("inbox", "x.txt", "x\n")
	e.createPipeline(`name: copy
runner: kubernetes
input: {pfs: {repo: inbox, glob: "/*"}}
transform:
  image: ` + workImage + `
  cmd: [sh]
  stdin: ['cp -r "$TUSK_PFS/inbox/." "$TUSK_PFS/out/"']
`)
	job := e.nextJob("copy", map[string]bool{})
	pod := e.podOf(job)
	e.restart()
	if _, err := e.admin.BatchV1().Jobs(namespace).Get(ctxT(t), job.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("Job %s after the gateway stopped: %v, want it left running", job.Name, err)
	}
	ran := e.execPod(pod)
	if ran.init != 0 || ran.main != 0 {
		t.Fatalf("pod %s after the restart: init exited %d, worker %d:\n%s", pod.Name, ran.init, ran.main, ran.log)
	}
	j, err := e.gw.Pipelines.WaitJob(ctxT(t), job.Labels[k8srunner.LabelJob])
	if err != nil {
		t.Fatal(err)
	}
	if j.State != pipelines.JobSuccess || j.Stats.Processed != 1 {
		t.Fatalf("job %s: %s (%s) %+v; want success with 1 datum processed", j.ID, j.State, j.Reason, j.Stats)
	}
	out, err := e.s3.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String("copy"), Key: aws.String("x.txt")})
	if err != nil {
		t.Fatalf("get copy/x.txt: %v", err)
	}
	out.Body.Close()
	// A Job made instead of re-attaching would still be there: its pod
	// never ran.
	for _, n := range e.jobNames("copy") {
		if n != job.Name {
			t.Fatalf("Jobs of copy after the restart: %v; want only %s (re-attached)", e.jobNames("copy"), job.Name)
		}
	}
}
