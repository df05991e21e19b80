package soak

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestCandidates: the states the model allows for one key after writes
// with given intervals and outcomes.
func TestCandidates(t *testing.T) {
	pinned := state{present: true, version: "v0", sha: "s0"}
	put := func(v, sha string, start, end uint64, out outcome) *write {
		return &write{sha: sha, version: v, start: start, end: end, out: out}
	}
	del := func(v string, start, end uint64, out outcome) *write {
		return &write{del: true, version: v, start: start, end: end, out: out}
	}
	for _, tc := range []struct {
		name   string
		writes []*write
		want   []state
	}{
		{"no write: the pinned state", nil, []state{pinned}},
		{"one acknowledged put", []*write{put("v1", "s1", 1, 2, acked)}, []state{{true, "v1", "s1"}}},
		{"sequential puts: the last", []*write{put("v1", "s1", 1, 2, acked), put("v2", "s2", 3, 4, acked)}, []state{{true, "v2", "s2"}}},
		{"overlapping puts: either", []*write{put("v1", "s1", 1, 4, acked), put("v2", "s2", 2, 3, acked)},
			[]state{{true, "v1", "s1"}, {true, "v2", "s2"}}},
		{"put then delete", []*write{put("v1", "s1", 1, 2, acked), del("v2", 3, 4, acked)}, []state{{present: false}}},
		{"failed put: the pinned state", []*write{put("", "s1", 1, 2, failed)}, []state{pinned}},
		{"cut put: pinned or it", []*write{put("", "s1", 1, 2, unknown)}, []state{pinned, {true, "", "s1"}}},
		{"cut put before an acknowledged one: either (it may land late)", []*write{put("", "s1", 1, 2, unknown), put("v2", "s2", 3, 4, acked)},
			[]state{{true, "v2", "s2"}, {true, "", "s1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := candidates(&keyModel{pinned: pinned, since: tc.writes})
			if len(got) != len(tc.want) {
				t.Fatalf("candidates %v, want %v", got, tc.want)
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("candidates %v lack %v", got, w)
				}
			}
		})
	}
}

// TestPayload: a payload checks; truncated, extended or altered bytes do not.
func TestPayload(t *testing.T) {
	body, sha := makePayload(rand.NewChaCha8([32]byte{1}), "m/k01", 1000)
	if why := checkPayload(body); why != "" || sha != sha256hex(body) {
		t.Fatalf("a whole payload: %q", why)
	}
	flip := bytes.Clone(body)
	flip[len(flip)-1] ^= 1
	for name, b := range map[string][]byte{
		"truncated": body[:len(body)-1], "extended": append(bytes.Clone(body), 0), "a flipped bit": flip,
		"zeros": make([]byte, len(body)), "empty": nil,
	} {
		if checkPayload(b) == "" {
			t.Errorf("%s payload passes the check", name)
		}
	}
}

// TestCheckerCatches: the checker reports what it is for. Writes through
// the model, then behind its back: a removed acknowledged version (LOST),
// an unacknowledged version and an unknown key (PHANTOM), a torn body
// (CORRUPT), each against a real `tusk serve`.
func TestCheckerCatches(t *testing.T) {
	bin := tuskBin(t)
	dir := t.TempDir()
	p, err := StartTusk(bin, filepath.Join(dir, "data"), filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := NewClient(p.URL)
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("catch")}); err != nil {
		t.Fatal(err)
	}
	m := NewModel("catch")
	main := m.Branch("main")
	var gate sync.RWMutex
	mc, err := NewMinio(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	l := &load{m: m, c: cl, mc: mc, st: newStats(), mix: SoakMix, gate: &gate, maxSize: 4096}
	rng := rand.New(rand.NewPCG(1, 2))
	content := rand.NewChaCha8([32]byte{2})
	for i := range 30 {
		l.put(ctx, main, rng, content, i%2 == 1) // aws-sdk-go-v2 and minio-go
	}
	ck := &checker{m: m, c: cl, rng: rng}
	ck.branch(ctx, main)
	if vs, _ := m.Violations(); len(vs) > 0 {
		t.Fatalf("violations before tampering: %v", vs)
	}

	// LOST: an acknowledged version removed from the branch.
	gone := m.randomPut(main, rng)
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("catch"), Key: aws.String(gone.key), VersionId: aws.String(gone.version)}); err != nil {
		t.Fatal(err)
	}
	// PHANTOM: a version no recorded write made, and a key no write touched.
	for _, key := range []string{main.keys[0], "m/never"} {
		body, _ := makePayload(content, key, 10)
		if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("catch"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	// CORRUPT: an acknowledged write whose bytes are torn.
	body, sha := makePayload(content, main.keys[1], 100)
	torn := body[:len(body)-10]
	w := m.begin(main, "put", main.keys[1], false, sha, int64(len(body)))
	out, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("catch"), Key: aws.String(main.keys[1]), Body: bytes.NewReader(torn)})
	if err != nil {
		t.Fatal(err)
	}
	m.end(w, aws.ToString(out.VersionId), nil)

	ck.branch(ctx, main)
	vs, kinds := m.Violations()
	t.Logf("violations found: %v\n%s", kinds, strings.Join(vs, "\n"))
	for _, k := range []string{"LOST", "PHANTOM", "CORRUPT"} {
		if kinds[k] == 0 {
			t.Errorf("the checker found no %s violation", k)
		}
	}
	if !strings.Contains(strings.Join(vs, "\n"), gone.version) {
		t.Errorf("no violation names the removed version %s", gone.version)
	}
	if !strings.Contains(strings.Join(vs, "\n"), `"m/never"`) {
		t.Errorf("no violation names the unknown key m/never")
	}
}
