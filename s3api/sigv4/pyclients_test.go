package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pyEnv is a clean environment for the Python clients: no real credentials,
// profiles or CA bundle from the machine (see shared/notes/s3-clients.md).
func pyEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "BOTO") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+testAK, "AWS_SECRET_ACCESS_KEY="+testSK, "AWS_DEFAULT_REGION="+testRegion,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"BOTO_DISABLE_CRT=true", "AWS_EC2_METADATA_DISABLED=true")
}

const botoScript = `
import sys, urllib.request, boto3
from botocore.config import Config
endpoint = sys.argv[1]
keys = ["plain.txt", "with space.txt", "a+b=c&d", "100%", "x%2Fy", "ünïcødé/日本.txt", "a//b", "x/../y",
        "semi;colon,comma!*'()$@:", "q?h#", "t~i-l_d.e"]
for signing in (True, False):
    s3 = boto3.client("s3", endpoint_url=endpoint,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path", "payload_signing_enabled": signing}))
    for k in keys:
        s3.put_object(Bucket="bucket", Key=("signed/" if signing else "unsigned/") + k, Body=b"boto:" + k.encode())
url = s3.generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "presigned/ünï key+1"}, ExpiresIn=300)
urllib.request.urlopen(url).read()
print("ok")
`

// TestPythonClients drives the verifier with boto3 and the AWS CLI v2
// (scripts/install-test-deps.sh installs them; the test fails without them,
// and only -short leaves it out). Their signers differ from the Go SDKs' in
// path and query encoding.
func TestPythonClients(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	echo := newEcho()
	srv := httptest.NewServer(echo)
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte("[default]\nregion = "+testRegion+"\ns3 =\n  addressing_style = path\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte("[default]\naws_access_key_id = "+testAK+"\naws_secret_access_key = "+testSK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// boto3 rejects a "localhost" endpoint's virtual hosting; use the IP.
	endpoint := strings.Replace(srv.URL, "localhost", "127.0.0.1", 1)

	t.Run("boto3", func(t *testing.T) {
		py, err := exec.LookPath("python3")
		if err != nil {
			t.Fatalf("no python3 for boto3: %v (run scripts/install-test-deps.sh)", err)
		}
		if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
			t.Fatalf("%s cannot import boto3: %v: %s (run scripts/install-test-deps.sh)", py, err, out)
		}
		cmd := exec.Command(py, "-c", botoScript, endpoint)
		cmd.Env = pyEnv(dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("boto3: %v\n%s", err, out)
		}
		for _, prefix := range []string{"signed/", "unsigned/"} {
			for _, k := range []string{"plain.txt", "with space.txt", "a+b=c&d", "100%", "x%2Fy", "ünïcødé/日本.txt", "a//b", "x/../y",
				"semi;colon,comma!*'()$@:", "q?h#", "t~i-l_d.e"} {
				got := echo.get(t, "/bucket/"+prefix+k)
				want := sha256.Sum256([]byte("boto:" + k))
				if got.sum != hex.EncodeToString(want[:]) {
					t.Fatalf("%s%s: body hash %s", prefix, k, got.sum)
				}
			}
		}
		echo.get(t, "/bucket/presigned/ünï key+1")
		t.Logf("payload modes seen: %v", echo.modes())
	})

	t.Run("aws cli v2", func(t *testing.T) {
		const aws = "/usr/bin/aws"
		if _, err := os.Stat(aws); err != nil {
			t.Fatalf("no %s (the aws CLI v2, Debian's awscli): %v (run scripts/install-test-deps.sh)", aws, err)
		}
		file := filepath.Join(dir, "payload")
		data := bytes.Repeat([]byte("cli "), 10000)
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"cli/with space+plus=ü.bin", "cli/a//b/../c"} {
			cmd := exec.Command(aws, "--endpoint-url", endpoint, "s3api", "put-object",
				"--bucket", "bucket", "--key", key, "--body", file)
			cmd.Env = pyEnv(dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("aws s3api put-object %q: %v\n%s", key, err, out)
			}
			if got := echo.get(t, "/bucket/"+key); got.sum != sha256Hex(data) {
				t.Fatalf("%s: body hash %s", key, got.sum)
			}
		}
		t.Logf("payload modes seen: %v", echo.modes())
	})
}
