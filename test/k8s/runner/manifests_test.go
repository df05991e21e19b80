package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/tusk-data/tusk/test/k8s/k8stest"
)

// deployDir is the repository's deploy/kubernetes (tests run in their
// package's directory).
var deployDir = filepath.Join("..", "..", "..", "deploy", "kubernetes")

// fieldManager is the manager of the fields the tests apply.
const fieldManager = "tusk-deploy-test"

// applyManifests server-side applies every object of deploy/kubernetes in
// the order its kustomization.yaml lists the files (as an admin applying
// them would), fails the test when the API server refuses one or a YAML
// file of the directory is not listed, and returns the objects as the
// server stored them.
func applyManifests(t testing.TB, cfg *rest.Config) []*unstructured.Unstructured {
	t.Helper()
	var kust struct {
		Resources []string `json:"resources"`
	}
	decodeFile(t, filepath.Join(deployDir, "kustomization.yaml"), func(dec *yaml.YAMLOrJSONDecoder) error { return dec.Decode(&kust) })
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(kust.Resources, b) {
			t.Errorf("deploy/kubernetes/%s is not in kustomization.yaml's resources", b)
		}
	}

	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out []*unstructured.Unstructured
	for _, name := range kust.Resources {
		decodeFile(t, filepath.Join(deployDir, name), func(dec *yaml.YAMLOrJSONDecoder) error {
			for {
				var obj map[string]any
				if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
					return nil
				} else if err != nil {
					return err
				}
				if obj == nil {
					continue // an empty document
				}
				u := &unstructured.Unstructured{Object: obj}
				gvk := u.GroupVersionKind()
				m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Fatalf("deploy/kubernetes/%s: %s %s: %v", name, gvk, u.GetName(), err)
				}
				var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
				if m.Scope.Name() == meta.RESTScopeNameNamespace {
					if u.GetNamespace() != namespace {
						t.Errorf("deploy/kubernetes/%s: %s %s is in namespace %q, want %q", name, gvk.Kind, u.GetName(), u.GetNamespace(), namespace)
					}
					ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
				}
				got, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager})
				if err != nil {
					t.Fatalf("server-side apply of deploy/kubernetes/%s: %s %s: %v", name, gvk.Kind, u.GetName(), err)
				}
				out = append(out, got)
			}
		})
	}
	return out
}

// decodeFile opens path and hands fn a YAML decoder of it.
func decodeFile(t testing.TB, path string, fn func(*yaml.YAMLOrJSONDecoder) error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := fn(yaml.NewYAMLOrJSONDecoder(f, 4096)); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestDeployManifests: deploy/kubernetes is accepted by a real API server
// (server-side apply), holds what the issue lists, and the StatefulSet's
// controller makes Tusk's pod from it with the gateway's ServiceAccount.
// The StatefulSet's arguments are flags `tusk serve` knows and its $(VARS)
// are defined. (That the Role is enough for the runner is shown by the
// runner tests, which run it with that ServiceAccount's token.)
func TestDeployManifests(t *testing.T) {
	c := k8stest.Start(t)
	objs := applyManifests(t, c.Admin)

	kinds := map[string][]string{}
	var sts appsv1.StatefulSet
	var cm corev1.ConfigMap
	var sec corev1.Secret
	for _, o := range objs {
		kinds[o.GetKind()] = append(kinds[o.GetKind()], o.GetName())
		var into any
		switch o.GetKind() {
		case "StatefulSet":
			into = &sts
		case "ConfigMap":
			into = &cm
		case "Secret":
			into = &sec
		default:
			continue
		}
		if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into); err != nil {
			t.Fatal(err)
		}
	}
	for kind, n := range map[string]int{"Namespace": 1, "ServiceAccount": 2, "Role": 1, "RoleBinding": 1, "Secret": 1,
		"ConfigMap": 1, "Service": 1, "StatefulSet": 1} {
		if len(kinds[kind]) != n {
			t.Errorf("deploy/kubernetes has %s %v, want %d", kind, kinds[kind], n)
		}
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 || len(sts.Spec.VolumeClaimTemplates) != 1 ||
		sts.Spec.Template.Spec.ServiceAccountName != runnerAccount {
		t.Fatalf("StatefulSet: replicas %v, %d claim templates, serviceAccountName %q; want 1 replica, a PVC for Badger, %s",
			sts.Spec.Replicas, len(sts.Spec.VolumeClaimTemplates), sts.Spec.Template.Spec.ServiceAccountName, runnerAccount)
	}

	// Every argument is a flag of `tusk serve`; every $(VAR) is defined by
	// the container's env or the ConfigMap and Secret it takes env from.
	ctr := sts.Spec.Template.Spec.Containers[0]
	help := runTusk(t, "serve", "--help")
	defined := map[string]bool{}
	for _, v := range ctr.Env {
		defined[v.Name] = true
	}
	for k := range cm.Data {
		defined[k] = true
	}
	for k := range sec.StringData {
		defined[k] = true
	}
	for k := range sec.Data {
		defined[k] = true
	}
	varRe := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	if len(ctr.Args) == 0 || ctr.Args[0] != "serve" {
		t.Fatalf("StatefulSet container args %q: want serve first", ctr.Args)
	}
	for _, a := range ctr.Args[1:] {
		flag, _, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(flag, "--") || !strings.Contains(help, "  "+flag+" ") && !strings.Contains(help, ", "+flag+" ") {
			t.Errorf("StatefulSet argument %q: %s is not a flag of tusk serve", a, flag)
		}
		for _, m := range varRe.FindAllStringSubmatch(a, -1) {
			if !defined[m[1]] {
				t.Errorf("StatefulSet argument %q: $(%s) is defined by no env, ConfigMap or Secret key", a, m[1])
			}
		}
	}
	for _, k := range []string{"TUSK_ACCESS_KEY", "TUSK_SECRET_KEY", "TUSK_S3_ACCESS_KEY", "TUSK_S3_SECRET_KEY"} {
		if !defined[k] {
			t.Errorf("the admin and S3 keys: Secret tusk has no %s", k)
		}
	}

	// The StatefulSet controller accepts it too: it makes the pod (and its
	// claim) from the template.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := kubernetes.NewForConfigOrDie(c.Admin)
	pods := admin.CoreV1().Pods(namespace)
	ev, err := watchtools.UntilWithSync(ctx, listWatch(pods.List, pods.Watch, "app.kubernetes.io/name=tusk", ""), &corev1.Pod{}, nil,
		func(ev watch.Event) (bool, error) { return ev.Type == watch.Added, nil })
	if err != nil {
		t.Fatalf("waiting for the StatefulSet's pod: %v", err)
	}
	pod := ev.Object.(*corev1.Pod)
	if pod.Name != "tusk-0" || pod.Spec.ServiceAccountName != runnerAccount || pod.Spec.Containers[0].Image != ctr.Image {
		t.Fatalf("StatefulSet pod %s: serviceAccountName %q image %q", pod.Name, pod.Spec.ServiceAccountName, pod.Spec.Containers[0].Image)
	}
	if _, err := admin.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, "data-tusk-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("the StatefulSet's claim for Badger: %v", err)
	}
}
