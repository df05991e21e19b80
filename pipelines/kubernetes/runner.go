package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	kclient "k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/pipelines"
)

// Labels of the objects the runner makes (Jobs, their pods, Secrets).
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "tusk"
	LabelPipeline  = "tusk.pipeline"
	LabelVersion   = "tusk.version"
	LabelJob       = "tusk.job"
	LabelTask      = "tusk.task"
)

// Names inside the pods.
const (
	InitContainer = "tusk-init"
	Container     = "worker"
	BinVolume     = "tusk-bin"
	BinDir        = "/tusk-bin"
	// PFSVolume is an emptyDir at PFSDir in the worker container: each
	// datum is staged there (SPEC §7: /pfs/<input name>/, /pfs/out/).
	PFSVolume = "tusk-pfs"
	PFSDir    = "/pfs"
	// SecretAccessKey and SecretSecretKey are the keys of the Secret.
	SecretAccessKey = "access_key"
	SecretSecretKey = "secret_key"
)

// Config configures the runner (server config; a spec's settings override
// Requests, Limits and add to NodeSelector and Tolerations).
type Config struct {
	Client kclient.Interface
	// Namespace holds the Jobs, pods and Secrets.
	Namespace string
	// Image is the Tusk image; its binary (ImageBinary) is copied into
	// each pod by the init container.
	Image       string
	ImageBinary string // default /tusk
	// Gateway is the URL pods reach the gateway at (S3 and admin API).
	Gateway string
	Region  string
	// ServiceAccount runs the worker pods ("" = the namespace's default);
	// the pods get no API token (they need none).
	ServiceAccount   string
	ImagePullSecrets []string
	// Labels are added to every Job, pod and Secret.
	Labels       map[string]string
	Requests     pipelines.Resources
	Limits       pipelines.Resources
	NodeSelector map[string]string
	Tolerations  []pipelines.Toleration
	// Parallelism is how many pods each Job runs at once, claiming datums
	// from the same task (default 1: the service already runs a
	// pipeline's parallelism as that many concurrent tasks).
	Parallelism int
	// TTL is how long a finished Job stays (ttlSecondsAfterFinished,
	// default 10m).
	TTL time.Duration
	// AdoptGrace is how long a Job found running at Start waits for its
	// Tusk job to resume and re-attach it before it is deleted (default 5m).
	AdoptGrace time.Duration
	// Board is where tasks are posted for the pods (the service's).
	Board *pipelines.TaskBoard
	Log   zerolog.Logger
}

// Runner runs tasks as Kubernetes Jobs.
type Runner struct {
	cfg      Config
	factory  informers.SharedInformerFactory
	jobs     batchlisters.JobLister
	pods     corelisters.PodLister
	detached atomic.Bool

	mu      sync.Mutex
	started bool
	runs    map[string]*run         // task id (= Job name) -> its Run
	orphans map[string]*batchv1.Job // running Jobs found at Start, not re-attached yet
	timers  map[string]*time.Timer  // orphan -> its deletion
}

var (
	_ pipelines.Runner   = (*Runner)(nil)
	_ pipelines.Detacher = (*Runner)(nil)
)

// run is one Run: its posting and the signal of changes to its Job/pods.
type run struct {
	id     string
	post   *pipelines.Posting
	kick   chan struct{}
	failed map[string]bool // pods whose failure was handled
	// lastFailure is why the last failed pod failed: the datums left
	// when the Job ends failed for it too (a pod evicted before it
	// claimed anything).
	lastFailure string
}

func (r *run) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// New returns a runner; Start must run before Run.
func New(cfg Config) (*Runner, error) {
	if cfg.Client == nil || cfg.Namespace == "" || cfg.Image == "" || cfg.Gateway == "" || cfg.Board == nil {
		return nil, errs.E("kubernetes.New", errs.Invalid, "the kubernetes runner needs a client, a namespace, the Tusk image, the gateway URL pods use and a task board")
	}
	if cfg.ImageBinary == "" {
		cfg.ImageBinary = "/tusk"
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = 1
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Minute
	}
	if cfg.AdoptGrace <= 0 {
		cfg.AdoptGrace = 5 * time.Minute
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	for _, q := range []pipelines.Resources{cfg.Requests, cfg.Limits} {
		if _, err := resourceList(&q); err != nil {
			return nil, err
		}
	}
	return &Runner{cfg: cfg, runs: map[string]*run{}, orphans: map[string]*batchv1.Job{}, timers: map[string]*time.Timer{}}, nil
}

// Start starts the informers (until ctx ends), waits for their caches and
// takes note of the Jobs still running from an earlier gateway: each is
// re-attached by the first Run of its Tusk job and version, or deleted
// after AdoptGrace.
func (r *Runner) Start(ctx context.Context) error {
	sel := labels.Set{LabelManagedBy: ManagedBy}.String()
	r.factory = informers.NewSharedInformerFactoryWithOptions(r.cfg.Client, 0, informers.WithNamespace(r.cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	ji := r.factory.Batch().V1().Jobs()
	pi := r.factory.Core().V1().Pods()
	r.jobs, r.pods = ji.Lister(), pi.Lister()
	onJob := func(obj any) {
		if j, ok := obj.(*batchv1.Job); ok {
			r.touch(j.Labels[LabelTask], j)
		}
	}
	onPod := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok {
			r.touch(p.Labels[LabelTask], nil)
		}
	}
	if _, err := ji.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onJob,
		UpdateFunc: func(_, o any) { onJob(o) }, DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if j, ok := o.(*batchv1.Job); ok {
				r.forgetOrphan(j.Name)
				r.touch(j.Labels[LabelTask], nil)
			}
		}}); err != nil {
		return err
	}
	if _, err := pi.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onPod,
		UpdateFunc: func(_, o any) { onPod(o) }, DeleteFunc: onPod}); err != nil {
		return err
	}
	r.factory.Start(ctx.Done())
	for typ, ok := range r.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return errs.E("kubernetes.Start", errs.Transient, "the %v informer of namespace %s did not sync (is the API server reachable, and may the runner's account list and watch jobs and pods?)", typ, r.cfg.Namespace)
		}
	}
	list, err := r.jobs.Jobs(r.cfg.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range list {
		if _, done := finished(j); done {
			continue
		}
		name := j.Name
		r.orphans[name] = j
		r.timers[name] = time.AfterFunc(r.cfg.AdoptGrace, func() {
			r.mu.Lock()
			_, still := r.orphans[name]
			delete(r.orphans, name)
			delete(r.timers, name)
			r.mu.Unlock()
			if still {
				r.cfg.Log.Info().Str("k8s_job", name).Msg("kubernetes runner: deleting a Job no job resumed")
				r.deleteJob(name)
			}
		})
		r.cfg.Log.Info().Str("k8s_job", name).Str("job", j.Labels[LabelJob]).Msg("kubernetes runner: found a running Job; it is re-attached when its job resumes")
	}
	r.started = true
	return nil
}

// Detach implements pipelines.Detacher: Runs cancelled from now on leave
// their Jobs running (the gateway is stopping).
func (r *Runner) Detach() { r.detached.Store(true) }

func (r *Runner) forgetOrphan(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.orphans, name)
	if t := r.timers[name]; t != nil {
		t.Stop()
		delete(r.timers, name)
	}
}

// touch wakes the Run of task id (an event of its Job or pods).
func (r *Runner) touch(id string, j *batchv1.Job) {
	if j != nil {
		if _, done := finished(j); done {
			r.forgetOrphan(j.Name)
		}
	}
	r.mu.Lock()
	rn := r.runs[id]
	r.mu.Unlock()
	if rn != nil {
		rn.wake()
	}
}

// finished returns why a Job ended, and whether it did.
func finished(j *batchv1.Job) (string, bool) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobSuccessCriteriaMet:
			return "the Kubernetes Job " + j.Name + " completed", true
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			return strings.TrimSpace(fmt.Sprintf("the Kubernetes Job %s failed: %s %s", j.Name, c.Reason, c.Message)), true
		}
	}
	return "", false
}

// Run implements pipelines.Runner: it posts t, creates (or re-attaches)
// its Job, and follows its pods until every datum was reported, the Job
// ended, or ctx ended.
func (r *Runner) Run(ctx context.Context, t *pipelines.Task, report func(pipelines.Result)) error {
	r.mu.Lock()
	if !r.started {
		r.mu.Unlock()
		return errs.E("kubernetes.Run", errs.Internal, "the kubernetes runner was not started")
	}
	id := ""
	for name, j := range r.orphans {
		if j.Labels[LabelJob] == t.Job && j.Labels[LabelVersion] == strconv.Itoa(t.Version) {
			id = name
			delete(r.orphans, name)
			if tm := r.timers[name]; tm != nil {
				tm.Stop()
				delete(r.timers, name)
			}
			break
		}
	}
	adopted := id != ""
	if !adopted {
		id = jobName(t.Pipeline)
	}
	pt := *t
	pt.Endpoint, pt.WorkDir = r.cfg.Gateway, ""
	post, err := r.cfg.Board.Post(id, &pt, report)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	rn := &run{id: id, post: post, kick: make(chan struct{}, 1), failed: map[string]bool{}}
	r.runs[id] = rn
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.runs, id)
		r.mu.Unlock()
		post.Close()
	}()
	if adopted {
		r.cfg.Log.Info().Str("k8s_job", id).Str("job", t.Job).Msg("kubernetes runner: re-attached a running Job")
		// Pods still running a datum claimed from the old board re-claim
		// it by renewing before any datum is handed out again.
		post.Hold(r.cfg.Board.Lease())
		rn.wake()
	} else if err := r.create(ctx, id, t); err != nil {
		return err
	}
	for {
		select {
		case <-post.Done():
			return nil
		case <-ctx.Done():
			if !r.detached.Load() {
				r.deleteJob(id)
			}
			return ctx.Err()
		case <-rn.kick:
			if r.sync(ctx, rn) {
				return nil
			}
		}
	}
}

// sync handles what changed for rn: pods that failed have their claimed
// datums failed with their reason; a Job that ended has the rest failed
// with its own and that of its last failed pod. It reports whether the Job ended.
func (r *Runner) sync(ctx context.Context, rn *run) bool {
	sel := labels.Set{LabelTask: rn.id}.AsSelector()
	pods, _ := r.pods.Pods(r.cfg.Namespace).List(sel)
	j, err := r.jobs.Jobs(r.cfg.Namespace).Get(rn.id)
	why, done := "", false
	if apierrors.IsNotFound(err) {
		why, done = "the Kubernetes Job "+rn.id+" was deleted", true
	} else if err == nil {
		why, done = finished(j)
	}
	if done {
		// The Job controller saw the pods end before the Job did; the pod
		// informer may lag: read them once from the API.
		if l, err := r.cfg.Client.CoreV1().Pods(r.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()}); err == nil {
			pods = pods[:0]
			for i := range l.Items {
				pods = append(pods, &l.Items[i])
			}
		}
	}
	for _, p := range pods {
		if rn.failed[p.Name] {
			continue
		}
		reason, bad := podFailure(p)
		if !bad {
			continue
		}
		rn.failed[p.Name] = true
		rn.lastFailure = reason
		if tail := r.logTail(ctx, p.Name); tail != "" {
			reason += "; the pod's log ends with:\n" + tail
		}
		if n := rn.post.Fail(p.Name, reason); n > 0 {
			r.cfg.Log.Warn().Str("k8s_job", rn.id).Str("pod", p.Name).Int("datums", n).Msg("kubernetes runner: " + firstLine(reason))
		}
	}
	if done {
		why += " before the datum was reported"
		if rn.lastFailure != "" {
			why = rn.lastFailure + "; " + why
		}
		rn.post.FailAll(why)
	}
	return done
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// podFailure says why a pod failed (phase Failed: its container ended
// badly, or it was evicted; or it was deleted before it succeeded).
func podFailure(p *corev1.Pod) (string, bool) {
	if p.Status.Phase == corev1.PodSucceeded {
		return "", false
	}
	if p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s failed", p.Name)
	if p.Status.Phase != corev1.PodFailed {
		b.Reset()
		fmt.Fprintf(&b, "pod %s was deleted", p.Name)
	}
	if p.Status.Reason != "" {
		fmt.Fprintf(&b, " (%s", p.Status.Reason)
		if p.Status.Message != "" {
			fmt.Fprintf(&b, ": %s", p.Status.Message)
		}
		b.WriteString(")")
	}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if t := cs.State.Terminated; t != nil && (t.ExitCode != 0 || t.Reason == "OOMKilled") {
			fmt.Fprintf(&b, ": container %s exited with code %d", cs.Name, t.ExitCode)
			if t.Reason != "" {
				fmt.Fprintf(&b, " (%s)", t.Reason)
			}
			if m := strings.TrimSpace(t.Message); m != "" {
				fmt.Fprintf(&b, ": %s", m)
			}
		}
	}
	return b.String(), true
}

// logTail is the end of the worker container's log (best effort: "" when
// the kubelet cannot be reached).
func (r *Runner) logTail(ctx context.Context, pod string) string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	n := int64(20)
	b, err := r.cfg.Client.CoreV1().Pods(r.cfg.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: Container, TailLines: &n}).DoRaw(ctx)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// deleteJob deletes Job name and, through propagation, its pods and
// Secret.
func (r *Runner) deleteJob(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bg := metav1.DeletePropagationBackground
	err := r.cfg.Client.BatchV1().Jobs(r.cfg.Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		r.cfg.Log.Warn().Err(err).Str("k8s_job", name).Msg("kubernetes runner: deleting a Job")
	}
}

// jobName is a new Job (and task, and Secret) name for pipeline p.
func jobName(p string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	if len(p) > 40 {
		p = strings.TrimRight(p[:40], "-")
	}
	return "tusk-" + p + "-" + hex.EncodeToString(b[:])
}

// create makes the task's Secret and Job, and hands the Secret to the Job
// (owner reference) so that Kubernetes deletes it with the Job.
func (r *Runner) create(ctx context.Context, id string, t *pipelines.Task) error {
	lbl := r.labels(id, t)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: r.cfg.Namespace, Labels: lbl},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{SecretAccessKey: []byte(t.AccessKey), SecretSecretKey: []byte(t.SecretKey)}}
	secrets := r.cfg.Client.CoreV1().Secrets(r.cfg.Namespace)
	if _, err := secrets.Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("kubernetes runner: creating Secret %s: %w", id, err)
	}
	job, err := r.Job(id, t)
	if err == nil {
		job, err = r.cfg.Client.BatchV1().Jobs(r.cfg.Namespace).Create(ctx, job, metav1.CreateOptions{})
	}
	if err != nil {
		_ = secrets.Delete(context.Background(), id, metav1.DeleteOptions{})
		return fmt.Errorf("kubernetes runner: creating Job %s: %w", id, err)
	}
	owner, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{{
		APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID}}}})
	// The Job exists from here on: handing it the Secret must not fail
	// because the run is being cancelled or detached (a gateway stopping
	// right after the create), nor on one transient API error, or the Job
	// would be deleted under a gateway that meant to leave it running.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err = retry.OnError(retry.DefaultBackoff, func(err error) bool { return !apierrors.IsNotFound(err) }, func() error {
		_, err := secrets.Patch(pctx, id, types.MergePatchType, owner, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		r.deleteJob(id)
		_ = secrets.Delete(context.Background(), id, metav1.DeleteOptions{})
		return fmt.Errorf("kubernetes runner: handing Secret %s to its Job: %w", id, err)
	}
	return nil
}

func (r *Runner) labels(id string, t *pipelines.Task) map[string]string {
	l := map[string]string{}
	for k, v := range r.cfg.Labels {
		l[k] = v
	}
	l[LabelManagedBy] = ManagedBy
	l[LabelPipeline] = t.Pipeline
	l[LabelVersion] = strconv.Itoa(t.Version)
	l[LabelJob] = t.Job
	l[LabelTask] = id
	return l
}

// Job returns the Job of task id (not created).
func (r *Runner) Job(id string, t *pipelines.Task) (*batchv1.Job, error) {
	if t.Image == "" {
		return nil, errs.E("kubernetes.Job", errs.Invalid, "pipeline %s has no transform.image: the kubernetes runner runs the command in that image", t.Pipeline)
	}
	lbl := r.labels(id, t)
	res, err := r.resources(t)
	if err != nil {
		return nil, err
	}
	secretEnv := func(name, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: id}, Key: key}}}
	}
	region := t.Region
	if region == "" {
		region = r.cfg.Region
	}
	env := []corev1.EnvVar{
		{Name: "TUSK_ENDPOINT", Value: r.cfg.Gateway},
		{Name: "TUSK_REGION", Value: region},
		{Name: "TUSK_WORKER_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		secretEnv("TUSK_ACCESS_KEY", SecretAccessKey),
		secretEnv("TUSK_SECRET_KEY", SecretSecretKey),
		{Name: "AWS_ENDPOINT_URL", Value: r.cfg.Gateway},
		{Name: "AWS_REGION", Value: region},
		secretEnv("AWS_ACCESS_KEY_ID", SecretAccessKey),
		secretEnv("AWS_SECRET_ACCESS_KEY", SecretSecretKey),
	}
	keys := make([]string, 0, len(t.Env))
	for k := range t.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, corev1.EnvVar{Name: k, Value: t.Env[k]})
	}
	sel := map[string]string{}
	for k, v := range r.cfg.NodeSelector {
		sel[k] = v
	}
	for k, v := range t.NodeSelector {
		sel[k] = v
	}
	if len(sel) == 0 {
		sel = nil
	}
	var tols []corev1.Toleration
	for _, tl := range append(append([]pipelines.Toleration(nil), r.cfg.Tolerations...), t.Tolerations...) {
		tols = append(tols, corev1.Toleration{Key: tl.Key, Operator: corev1.TolerationOperator(tl.Operator), Value: tl.Value,
			Effect: corev1.TaintEffect(tl.Effect), TolerationSeconds: tl.TolerationSeconds})
	}
	var pulls []corev1.LocalObjectReference
	for _, s := range r.cfg.ImagePullSecrets {
		pulls = append(pulls, corev1.LocalObjectReference{Name: s})
	}
	par := int32(min(r.cfg.Parallelism, max(1, len(t.Datums))))
	ttl := int32(r.cfg.TTL / time.Second)
	no := false
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: r.cfg.Namespace, Labels: lbl},
		Spec: batchv1.JobSpec{
			Parallelism:             &par,
			BackoffLimit:            new(int32), // Tusk retries datums (datum_tries)
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					ServiceAccountName:           r.cfg.ServiceAccount,
					AutomountServiceAccountToken: &no,
					ImagePullSecrets:             pulls,
					NodeSelector:                 sel,
					Tolerations:                  tols,
					Volumes: []corev1.Volume{
						{Name: BinVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: PFSVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
					InitContainers: []corev1.Container{{
						Name:         InitContainer,
						Image:        r.cfg.Image,
						Command:      []string{r.cfg.ImageBinary, "worker", "--install", BinDir + "/tusk"},
						VolumeMounts: []corev1.VolumeMount{{Name: BinVolume, MountPath: BinDir}},
					}},
					Containers: []corev1.Container{{
						Name:      Container,
						Image:     t.Image,
						Command:   []string{BinDir + "/tusk", "worker"},
						Args:      []string{"--gateway", r.cfg.Gateway, "--task", id, "--pfs", PFSDir},
						Env:       env,
						Resources: res,
						VolumeMounts: []corev1.VolumeMount{{Name: BinVolume, MountPath: BinDir, ReadOnly: true},
							{Name: PFSVolume, MountPath: PFSDir}},
					}},
				},
			},
		},
	}
	if t.Timeout > 0 {
		// Every datum a pod may run, one after another, plus start-up.
		per := (len(t.Datums) + int(par) - 1) / int(par)
		d := int64((t.Timeout*time.Duration(per)+5*time.Minute)/time.Second) + 1
		job.Spec.ActiveDeadlineSeconds = &d
	}
	return job, nil
}

// resources merges the server's defaults with the task's.
func (r *Runner) resources(t *pipelines.Task) (corev1.ResourceRequirements, error) {
	merge := func(def pipelines.Resources, over *pipelines.Resources) pipelines.Resources {
		if over == nil {
			return def
		}
		for _, f := range []struct{ d, o *string }{{&def.CPU, &over.CPU}, {&def.Memory, &over.Memory}, {&def.Disk, &over.Disk}, {&def.GPU, &over.GPU}} {
			if *f.o != "" {
				*f.d = *f.o
			}
		}
		return def
	}
	req := merge(r.cfg.Requests, t.Requests)
	lim := merge(r.cfg.Limits, t.Limits)
	var out corev1.ResourceRequirements
	var err error
	if out.Requests, err = resourceList(&req); err != nil {
		return out, err
	}
	out.Limits, err = resourceList(&lim)
	return out, err
}

func resourceList(q *pipelines.Resources) (corev1.ResourceList, error) {
	l := corev1.ResourceList{}
	for _, f := range []struct {
		name corev1.ResourceName
		v    string
	}{{corev1.ResourceCPU, q.CPU}, {corev1.ResourceMemory, q.Memory}, {corev1.ResourceEphemeralStorage, q.Disk}, {"nvidia.com/gpu", q.GPU}} {
		if f.v == "" {
			continue
		}
		v, err := resource.ParseQuantity(f.v)
		if err != nil {
			return nil, errs.E("kubernetes.resources", errs.Invalid, "%s %q is not a Kubernetes quantity", f.name, f.v)
		}
		l[f.name] = v
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}
