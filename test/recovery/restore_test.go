package recovery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// state is everything a user can read of the history, as strings.
type state struct {
	Versions map[string][]string // bucket -> ListObjectVersions rows, in order
	Bytes    map[string]string   // bucket/key@version -> SHA-256 of the bytes
	CLI      map[string]string   // tusk command -> its JSON output
	Heads    map[string]string   // bucket/key -> x-amz-meta-* of HeadObject
	Purged   string              // the purged version's GET error code
}

func capture(t *testing.T, s *server, c *s3.Client, buckets []string, cmds [][]string, purged [3]string, outputs []string) state {
	t.Helper()
	ctx := context.Background()
	st := state{Versions: map[string][]string{}, Bytes: map[string]string{}, CLI: map[string]string{}, Heads: map[string]string{}}
	for _, b := range buckets {
		var km, vm *string
		for {
			out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b), KeyMarker: km, VersionIdMarker: vm, MaxKeys: aws.Int32(3)})
			if err != nil {
				t.Fatalf("ListObjectVersions %s: %v", b, err)
			}
			for _, v := range out.Versions {
				st.Versions[b] = append(st.Versions[b], fmt.Sprintf("%s %s latest=%v %s %d %s", aws.ToString(v.Key), aws.ToString(v.VersionId),
					aws.ToBool(v.IsLatest), aws.ToString(v.ETag), aws.ToInt64(v.Size), v.LastModified.UTC().Format(time.RFC3339Nano)))
				sum, err := getSHA(c, b, aws.ToString(v.Key), aws.ToString(v.VersionId))
				if err != nil {
					t.Fatalf("GET %s/%s@%s: %v", b, aws.ToString(v.Key), aws.ToString(v.VersionId), err)
				}
				st.Bytes[b+"/"+aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId)] = sum
			}
			for _, d := range out.DeleteMarkers {
				st.Versions[b] = append(st.Versions[b], fmt.Sprintf("%s %s latest=%v delete-marker %s", aws.ToString(d.Key), aws.ToString(d.VersionId),
					aws.ToBool(d.IsLatest), d.LastModified.UTC().Format(time.RFC3339Nano)))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			km, vm = out.NextKeyMarker, out.NextVersionIdMarker
		}
	}
	for _, args := range cmds {
		st.CLI[strings.Join(args, " ")] = s.tusk(append(args, "-o", "json")...)
	}
	for _, k := range outputs {
		st.CLI["prov edges@main:"+k] = s.tusk("prov", "edges@main:"+k, "-o", "json")
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("edges"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("HEAD edges/%s: %v", k, err)
		}
		keys := make([]string, 0, len(h.Metadata))
		for mk, mv := range h.Metadata {
			keys = append(keys, mk+"="+mv)
		}
		sort.Strings(keys)
		st.Heads["edges/"+k] = strings.Join(keys, ";")
	}
	if purged[0] != "" {
		_, err := getSHA(c, purged[0], purged[1], purged[2])
		st.Purged = errCode(err)
	}
	return st
}

// TestRestoreFromBackend: the whole history comes back from the backing
// store alone after the Badger directory is lost.
func TestRestoreFromBackend(t *testing.T) {
	bin := tuskBinary(t)
	data := t.TempDir()
	s := start(t, bin, data, "--meta-mirror-interval", "500ms")
	c := s.client(accessKey, secretKey)
	ctx := context.Background()

	s.tusk("repo", "create", "imgs")
	put(t, c, "imgs", "a.txt", []byte("a one\n"))
	put(t, c, "imgs", "a.txt", []byte("a two\n"))
	put(t, c, "imgs", "b.txt", []byte("b\n"))
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("imgs"), Key: aws.String("b.txt")}); err != nil {
		t.Fatal(err)
	}
	put(t, c, "imgs", "dir/x y+z.txt", []byte("spaces\n"))
	s.tusk("branch", "create", "imgs@dev")
	put(t, c, "dev.imgs", "c.txt", []byte("c on dev\n"))
	put(t, c, "dev.imgs", "a.txt", []byte("a from dev\n"))
	put(t, c, "imgs", "d.txt", []byte("d on main\n"))
	s.tusk("merge", "imgs@dev", "imgs@main", "-m", "merge dev")
	s.tusk("tag", "create", "imgs@v1")
	s.tusk("branch", "create", "imgs@gone")
	put(t, c, "gone.imgs", "only-here.txt", []byte("on a branch that is deleted\n"))
	s.waitMirror(time.Now()) // the branch is in the mirror: its deletion must replay
	s.tusk("branch", "delete", "imgs@gone")

	spec := filepath.Join(t.TempDir(), "edges.yaml")
	os.WriteFile(spec, []byte(`name: edges
input:
  pfs: {repo: imgs, branch: main, glob: "/*.txt"}
transform:
  cmd: [sh]
  stdin:
    - 'for f in "$TUSK_PFS"/imgs/*.txt; do tr a-z A-Z < "$f" > "$TUSK_PFS/out/$(basename "$f")"; done'
`), 0o600)
	s.tusk("pipeline", "create", "-f", spec)
	secret := put(t, c, "imgs", "secret.txt", []byte("must not come back\n"))
	s.tusk("job", "wait", "--timeout", "2m")
	s.waitMirror(time.Now()) // the version and its pipeline output are in the mirror before the purge
	s.tusk("purge", "imgs@main:secret.txt", "--version", secret, "--yes")
	s.tusk("job", "wait", "--timeout", "2m")
	if _, err := getSHA(c, "imgs", "secret.txt", secret); errCode(err) != "NoSuchVersion" {
		t.Fatalf("purged version reads: %v", err)
	}
	newUser := s.tusk("user", "create", "carol", "-o", "json")
	var nu struct {
		Key struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		} `json:"key"`
	}
	if err := json.Unmarshal([]byte(newUser), &nu); err != nil || nu.Key.AccessKey == "" {
		t.Fatalf("user create: %v %s", err, newUser)
	}
	s.tusk("perm", "grant", "carol", "imgs", "read")
	// Backups and the mirror are for admin users.
	for _, args := range [][]string{{"backup", filepath.Join(t.TempDir(), "x.dump")}, {"mirror", "status"}, {"mirror", "sync"}} {
		if out, err := runTuskAs(bin, s.url, nu.Key.AccessKey, nu.Key.SecretKey, args...); err == nil || !strings.Contains(out, "AccessDenied") && !strings.Contains(out, "access denied") {
			t.Errorf("tusk %s as a non-admin user: %v\n%s", args[0], err, out)
		}
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"tusk_meta_mirror_lag_seconds ", "tusk_meta_mirror_bytes ", "tusk_meta_mirror_segments ", "tusk_meta_mirror_failing 0"} {
		if !strings.Contains(string(metrics), "\n"+m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}

	outputs := []string{"a.txt", "c.txt", "d.txt"}
	buckets := []string{"imgs", "dev.imgs", "v1.imgs", "edges"}
	purged := [3]string{"imgs", "secret.txt", secret}
	cmds := [][]string{
		{"log", "imgs@main"}, {"log", "imgs@dev"}, {"log", "imgs@v1"}, {"log", "edges@main"},
		{"branch", "list", "imgs"}, {"tag", "list", "imgs"}, {"repo", "list"},
		{"prov", "imgs@main:a.txt", "--downstream"},
		{"diff", "imgs@v1", "imgs@main"},
	}
	before := capture(t, s, c, buckets, cmds, purged, outputs)
	if len(before.Versions["imgs"]) < 6 || before.Heads["edges/a.txt"] == "" {
		t.Fatalf("the history built is too small: %v", before.Versions)
	}
	// GC must leave the mirror alone.
	s.tusk("gc", "--retention", "0")
	s.waitMirror(time.Now())
	// No graceful last step: the mirror alone must hold the history.
	s.kill()

	if err := os.RemoveAll(filepath.Join(data, "meta")); err != nil {
		t.Fatal(err)
	}
	if out, err := runTusk(bin, "", "restore", "--from-backend", "--data-dir", data, "--server-key-file", filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(out, "--no-users") {
		t.Fatalf("restore without the server key: %v\n%s", err, out)
	}
	for _, d := range []string{"meta", "meta.restoring"} {
		if _, err := os.Stat(filepath.Join(data, d)); !os.IsNotExist(err) {
			t.Fatalf("a failed restore left %s behind (%v)", filepath.Join(data, d), err)
		}
	}
	out, err := runTusk(bin, "", "restore", "--from-backend", "--data-dir", data)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	t.Logf("tusk restore --from-backend: %s", out)

	s = start(t, bin, data, "--meta-mirror-interval", "500ms")
	c = s.client(accessKey, secretKey)
	s.tusk("job", "wait", "--timeout", "2m")
	after := capture(t, s, c, buckets, cmds, purged, outputs)
	if !reflect.DeepEqual(before.Versions, after.Versions) {
		t.Errorf("ListObjectVersions differ after restore:\nbefore %q\nafter  %q", before.Versions, after.Versions)
	}
	if !reflect.DeepEqual(before.Bytes, after.Bytes) {
		t.Errorf("version bytes differ after restore:\nbefore %v\nafter  %v", before.Bytes, after.Bytes)
	}
	for k, v := range before.CLI {
		if after.CLI[k] != v {
			t.Errorf("tusk %s differs after restore:\nbefore %s\nafter  %s", k, v, after.CLI[k])
		}
	}
	if !reflect.DeepEqual(before.Heads, after.Heads) {
		t.Errorf("provenance metadata differs:\nbefore %v\nafter  %v", before.Heads, after.Heads)
	}
	if after.Purged != "NoSuchVersion" {
		t.Errorf("the purged version reads as %q after restore, want NoSuchVersion", after.Purged)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("gone.imgs"), Key: aws.String("only-here.txt")}); err == nil {
		t.Error("the deleted branch came back")
	}
	// The user's key, sealed in the mirror, still signs.
	cc := s.client(nu.Key.AccessKey, nu.Key.SecretKey)
	if sum, err := getSHA(cc, "imgs", "d.txt", ""); err != nil || sum != before.Bytes[findVersion(before, "imgs/d.txt@")] {
		t.Errorf("carol's key after restore: %v", err)
	}
	// The mirror goes on from the restored store.
	put(t, c, "imgs", "after.txt", []byte("after restore\n"))
	s.waitMirror(time.Now())

	// A purge answers once its records are in the mirror: killed right
	// after it (no periodic step in between), the restored store still
	// reads the purged version as purged, and the bytes stay gone.
	s.kill()
	s = start(t, bin, data, "--meta-mirror-interval", "1h", "--no-pipelines")
	c = s.client(accessKey, secretKey)
	v2 := put(t, c, "imgs", "secret2.txt", []byte("this must not come back either\n"))
	s.waitMirror(time.Now())
	s.tusk("purge", "imgs@main:secret2.txt", "--version", v2, "--yes")
	s.kill()
	if out, err := runTusk(bin, "", "restore", "--from-backend", "--data-dir", data, "--force"); err != nil {
		t.Fatalf("restore --force: %v\n%s", err, out)
	}
	s = start(t, bin, data, "--meta-mirror-interval", "1h", "--no-pipelines")
	c = s.client(accessKey, secretKey)
	if _, err := getSHA(c, "imgs", "secret2.txt", v2); errCode(err) != "NoSuchVersion" {
		t.Errorf("a version purged just before the crash reads as %q after restore, want NoSuchVersion", errCode(err))
	}
	// ...and the branch head no longer shows the key (the purge's commit
	// is in the mirror), nor does the audit log miss the purge.
	lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("imgs"), Prefix: aws.String("secret2")})
	if err != nil || len(lo.Contents) != 0 {
		t.Errorf("after restore main still lists the key purged just before the crash: %v %d", err, len(lo.Contents))
	}
	if audit := s.tusk("audit", "--action", "purge", "-o", "json"); strings.Count(audit, v2) == 0 {
		t.Errorf("the audit log restored lacks the purge of %s:\n%s", v2, audit)
	}
}

// findVersion returns the one Bytes key with the prefix.
func findVersion(st state, prefix string) string {
	for k := range st.Bytes {
		if strings.HasPrefix(k, prefix) {
			return k
		}
	}
	return ""
}
