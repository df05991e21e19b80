package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/tusk-data/tusk/test/k8s/k8stest"
)

// TestControlPlaneSmoke checks what the kubernetes runner relies on in the
// test control plane: a ServiceAccount token from the TokenRequest API
// authenticates, RBAC refuses a Job to it without a binding and allows it
// with one, the Job controller makes the Job's Pod, a kubelet's pods/status
// update completes the Job, and the TTL-after-finished and garbage
// collector controllers then delete the Job and its Pod.
func TestControlPlaneSmoke(t *testing.T) {
	t0 := time.Now()
	c := k8stest.Start(t)
	t.Logf("control plane ready in %v at %s", time.Since(t0).Round(time.Millisecond), c.Server)
	t1 := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin := kubernetes.NewForConfigOrDie(c.Admin)
	const ns, sa = "smoke", "runner"
	token := c.ServiceAccountToken(t, ns, sa) // creates the namespace and the ServiceAccount
	asSA := kubernetes.NewForConfigOrDie(c.TokenConfig(token))

	// The token authenticates as the ServiceAccount.
	review, err := asSA.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectReview with the ServiceAccount token: %v", err)
	}
	if want := "system:serviceaccount:" + ns + ":" + sa; review.Status.UserInfo.Username != want {
		t.Fatalf("token authenticates as %q, want %q", review.Status.UserInfo.Username, want)
	}

	// Without a binding, RBAC refuses.
	if _, err := asSA.BatchV1().Jobs(ns).Create(ctx, smokeJob(), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("creating a Job without a RoleBinding: got %v, want Forbidden", err)
	}

	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runner"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create", "get", "list", "watch", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Role: %v", err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runner"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}},
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating RoleBinding: %v", err)
	}
	// The apiserver's RBAC authorizer learns of the binding through its own
	// informer and tells no one: ask it until it allows.
	ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Group: "batch", Resource: "jobs", Verb: "create"},
	}}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		r, err := asSA.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, ssar, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return r.Status.Allowed, nil
	})
	if err != nil {
		t.Fatalf("the RoleBinding does not take effect: %v", err)
	}

	job, err := asSA.BatchV1().Jobs(ns).Create(ctx, smokeJob(), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a Job as the ServiceAccount: %v", err)
	}

	// The Job controller makes the Pod; the ServiceAccount watches for it.
	podSel := labels.SelectorFromSet(labels.Set{batchv1.JobNameLabel: job.Name}).String()
	pods := asSA.CoreV1().Pods(ns)
	ev, err := watchtools.UntilWithSync(ctx, &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = podSel
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = podSel
			return pods.Watch(ctx, o)
		},
	}, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		return ev.Type == watch.Added, nil
	})
	if err != nil {
		t.Fatalf("waiting for the Job's Pod: %v", err)
	}
	pod := ev.Object.(*corev1.Pod)
	if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].UID != job.UID {
		t.Fatalf("pod %s owners %+v, want the Job %s", pod.Name, pod.OwnerReferences, job.UID)
	}
	if pod.Spec.ServiceAccountName != "default" || pod.Spec.Containers[0].Image != "busybox:1.37" {
		t.Fatalf("pod spec: serviceAccountName %q image %q", pod.Spec.ServiceAccountName, pod.Spec.Containers[0].Image)
	}

	// Play the kubelet: the container ran and exited 0.
	now := metav1.Now()
	status := corev1.PodStatus{
		Phase:     corev1.PodSucceeded,
		StartTime: &now,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name:    "main",
			Image:   "busybox:1.37",
			ImageID: "docker.io/library/busybox@sha256:" + fmt.Sprintf("%064x", 0),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now,
			}},
		}},
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatalf("patching pods/status: %v", err)
	}

	// The Job completes, then the TTL controller deletes it (ttl 0) and the
	// garbage collector its Pod.
	jobs := asSA.BatchV1().Jobs(ns)
	jobSel := fields.OneTermEqualSelector("metadata.name", job.Name).String()
	var completed bool
	_, err = watchtools.UntilWithSync(ctx, &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = jobSel
			return jobs.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = jobSel
			return jobs.Watch(ctx, o)
		},
	}, &batchv1.Job{}, nil, func(ev watch.Event) (bool, error) {
		j, ok := ev.Object.(*batchv1.Job)
		if !ok {
			return false, nil
		}
		for _, cond := range j.Status.Conditions {
			switch {
			case cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue:
				if !completed {
					t.Logf("job complete (succeeded %d) %v after the cluster was ready", j.Status.Succeeded, time.Since(t1).Round(time.Millisecond))
				}
				completed = true
			case cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue:
				return false, fmt.Errorf("job failed: %s: %s", cond.Reason, cond.Message)
			}
		}
		return ev.Type == watch.Deleted, nil
	})
	if err != nil {
		t.Fatalf("waiting for the Job to complete and be deleted: completed=%v: %v", completed, err)
	}
	if !completed {
		t.Fatalf("the Job was deleted without completing")
	}
	// Foreground deletion removes the Job only after its Pod: it is gone.
	if _, err := admin.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod %s after its Job was deleted: %v, want NotFound", pod.Name, err)
	}
	t.Logf("smoke test body %v after the cluster was ready", time.Since(t1).Round(time.Millisecond))
}

// smokeJob is a one-pod Job deleted as soon as it finishes.
func smokeJob() *batchv1.Job {
	one, zero := int32(1), int32(0)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Labels: map[string]string{"app": "smoke"}},
		Spec: batchv1.JobSpec{
			Parallelism:             &one,
			Completions:             &one,
			BackoffLimit:            &zero,
			TTLSecondsAfterFinished: &zero,
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name:    "main",
						Image:   "busybox:1.37",
						Command: []string{"true"},
					}},
				},
			},
		},
	}
}
