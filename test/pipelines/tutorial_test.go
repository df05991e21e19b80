package pipelines

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/pipelines"
)

// TestEdgesMontageTutorial is Pachyderm's beginner tutorial on Tusk
// (examples/edges-montage/README.md): images put with the aws CLI, an
// edges pipeline (one datum per image), a montage pipeline (cross of the
// images and the edges), incremental jobs, provenance through the CLI and
// through boto3's head_object.
func TestEdgesMontageTutorial(t *testing.T) {
	e := start(t)
	imgs := t.TempDir()
	out, err := runCmd(mkimages, "-n", "4", imgs)
	if err != nil {
		t.Fatalf("mkimages: %v\n%s", err, out)
	}
	e.tusk(0, "repo", "create", "images")
	for _, n := range []string{"circle", "square", "stripes"} {
		e.awsCLI("s3", "cp", filepath.Join(imgs, n+".png"), "s3://images/"+n+".png")
	}

	// edges: glob /*, one datum per image.
	e.create(`name: edges
description: the edges of every image (Pachyderm's beginner tutorial)
input:
  pfs: {repo: images, glob: "/*"}
transform:
  cmd: ["` + edgesBin + `"]
parallelism: 2
`)
	j := e.wait()["edges"]
	wantJob(t, j, pipelines.JobSuccess, 3, 3, 0)
	if got := strings.Join(e.keys("edges"), ","); got != "circle.png,square.png,stripes.png" {
		t.Fatalf("edges holds %s", got)
	}
	b, _ := e.get("edges", "circle.png")
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() != 128 {
		t.Fatalf("edges/circle.png is not a 128-pixel PNG: %v", err)
	}

	// montage: the cross of all images and all edges, one datum.
	e.create(`name: montage
input:
  cross:
    - pfs: {repo: images, glob: "/"}
    - pfs: {repo: edges, glob: "/"}
transform:
  cmd: ["` + montageBin + `"]
`)
	jobs := e.wait()
	wantJob(t, jobs["montage"], pipelines.JobSuccess, 1, 1, 0)
	first := jobs["montage"].ID

	// A 4th image: an edges job that processes 1 datum and skips 3, then
	// the montage reruns.
	e.awsCLI("s3", "cp", filepath.Join(imgs, "rings.png"), "s3://images/rings.png")
	jobs = e.wait()
	j = jobs["edges"]
	wantJob(t, j, pipelines.JobSuccess, 4, 1, 3)
	ringsJob := j
	out2 := e.tusk(0, "job", "inspect", j.ID)
	if !strings.Contains(out2, "4 total, 1 processed, 3 skipped") {
		t.Errorf("tusk job inspect:\n%s", out2)
	}
	wantJob(t, jobs["montage"], pipelines.JobSuccess, 1, 1, 0)
	if jobs["montage"].ID == first {
		t.Fatal("montage did not rerun")
	}
	b, _ = e.get("montage", "montage.png")
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("montage.png: %v", err)
	}

	// tusk prov of the montage: its 8 inputs (4 images, 4 edges) with their
	// commits.
	var pi pipev1.ProvInfo
	e.tuskJSON(&pi, "prov", "montage@main:montage.png")
	root := pi.Root
	if root.Pipeline != "montage@1" || len(root.Inputs) != 8 {
		t.Fatalf("prov of montage.png: pipeline %q, %d inputs", root.Pipeline, len(root.Inputs))
	}
	imagesHead := e.head("images")
	edgesHead := e.head("edges")
	var got []string
	for _, in := range root.Inputs {
		got = append(got, in.Repo+":"+in.Key)
		want := map[string]string{"images": imagesHead, "edges": edgesHead}[in.Repo]
		if in.Commit != want {
			t.Errorf("input %s:%s at commit %s, want the job's input commit %s", in.Repo, in.Key, in.Commit, want)
		}
		if in.Repo == "edges" && (in.Pipeline != "edges@1" || len(in.Inputs) != 1 || in.Inputs[0].Key != in.Key) {
			t.Errorf("edges:%s upstream: %+v", in.Key, in)
		}
	}
	sort.Strings(got)
	if len(got) != 8 || got[0] != "edges:circle.png" || got[7] != "images:stripes.png" {
		t.Errorf("montage inputs %v", got)
	}
	human := e.tusk(0, "prov", "montage@main:montage.png")
	for _, want := range []string{"images@" + imagesHead + ":rings.png", "edges@" + edgesHead + ":rings.png", "[montage@1, job "} {
		if !strings.Contains(human, want) {
			t.Errorf("tusk prov lacks %q:\n%s", want, human)
		}
	}
	// Downstream of one image: its edges, and the montages made from it
	// (directly and through its edges).
	var dn pipev1.ProvInfo
	e.tuskJSON(&dn, "prov", "--downstream", "images@main:rings.png")
	derived := map[string]bool{}
	for _, f := range pipelines.Flatten(dn.Root) {
		derived[f.Node.Repo+":"+f.Node.Key] = true
	}
	if len(derived) != 2 || !derived["edges:rings.png"] || !derived["montage:montage.png"] {
		t.Errorf("downstream of images:rings.png: %v", derived)
	}

	// boto3's head_object on an edges output shows its single input: the
	// image, at the commit the job that processed it read.
	res := e.boto3(`h = s3.head_object(Bucket="edges", Key="rings.png")
print(json.dumps(h["Metadata"]))`)
	var md map[string]string
	if err := json.Unmarshal([]byte(strings.TrimSpace(res)), &md); err != nil {
		t.Fatalf("boto3 said %q", res)
	}
	if want := "images@" + ringsJob.Inputs[0].Commit + ":rings.png?versionId="; !strings.HasPrefix(md["tusk-inputs"], want) ||
		md["tusk-pipeline"] != "edges@1" || md["tusk-job"] != ringsJob.ID {
		t.Errorf("head_object metadata %v, want tusk-inputs %s from job %s", md, want, ringsJob.ID)
	}
	// The CLI's views of the same work.
	for _, args := range [][]string{{"pipeline", "list"}, {"pipeline", "inspect", "montage"}, {"job", "list"},
		{"datum", "list", jobs["edges"].ID}, {"pipeline", "logs", "edges"}} {
		if out := e.tusk(0, args...); len(out) == 0 {
			t.Errorf("tusk %v printed nothing", args)
		}
	}
	logs := e.tusk(0, "pipeline", "logs", "edges")
	if !strings.Contains(logs, "edges: ") || !strings.Contains(logs, "rings.png") {
		t.Errorf("tusk pipeline logs edges:\n%s", logs)
	}
}

func (e *env) head(repo string) string {
	e.t.Helper()
	r, err := e.srv.Meta.Resolve(ctxT(e.t), repo, "main")
	if err != nil {
		e.t.Fatal(err)
	}
	return r.CommitID()
}

func runCmd(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}
